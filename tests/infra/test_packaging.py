"""The layer really builds without Docker: aarch64 / CPython 3.13 wheels, the comeback package without
its dev-only parts, CPython 3.13 bytecode for every source, and a stamp that makes rebuilds rare.

The layer is built once per session into a temporary directory (wheels come from uv's cache, so
this is seconds). Without a CPython 3.13 on the machine these tests fail, saying so: a layer without
its bytecode is not one we ship.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from comeback.app.topology import TOPOLOGY
from infra import packaging
from infra.packaging import (
    CACHE_TAG,
    DEV_ONLY,
    STAMP,
    LayerBuildError,
    build_layer,
    ensure_layer,
    find_python313,
    fingerprint,
    is_current,
    requirements,
)

ROOT = Path(__file__).resolve().parents[2]
EM_AARCH64 = 0xB7
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    little_endian = header[5] == 1
    (machine,) = struct.unpack("<H" if little_endian else ">H", header[18:20])
    return int(machine)


def _python313() -> str:
    try:
        return find_python313()
    except LayerBuildError as error:
        pytest.fail(f"the layer needs a CPython 3.13 to compile its bytecode: {error}")


def _build(target: Path, target_platform: str = packaging.PLATFORM) -> Path:
    _python313()
    return build_layer(target, target_platform=target_platform)


@pytest.fixture(scope="session")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer as Lambda gets it: manylinux aarch64 wheels."""
    return _build(tmp_path_factory.mktemp("layer") / "layer")


@pytest.fixture(scope="session")
def host_layer(tmp_path_factory: pytest.TempPathFactory, layer: Path) -> Path:
    """The same layer with this machine's wheels, so its modules can be imported here."""
    if packaging.host_platform() == packaging.PLATFORM:
        return layer
    return _build(tmp_path_factory.mktemp("host-layer") / "layer", target_platform=packaging.host_platform())


def test_requirements_are_the_pinned_runtime_dependencies_only() -> None:
    pinned = {line.split("==")[0] for line in requirements().splitlines() if "==" in line}
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools", "jinja2", "pyyaml"} <= pinned
    assert not pinned & {"moto", "aws-cdk-lib", "pytest", "cdk-nag", "cfn-lint"}
    assert all(
        "==" in line for line in requirements().splitlines() if line and not line.startswith(("#", " "))
    )


def test_layer_holds_aarch64_cp313_binaries(layer: Path) -> None:
    site = layer / "python"
    (core,) = (site / "pydantic_core").glob("_pydantic_core*.so")
    assert "cpython-313-aarch64-linux-gnu" in core.name
    assert _elf_machine(core) == EM_AARCH64
    extensions = list(site.rglob("*.so"))
    assert extensions and all(_elf_machine(so) == EM_AARCH64 for so in extensions)
    assert not [so for so in extensions if "x86_64" in so.name or "cpython-311" in so.name]


def test_layer_holds_the_comeback_package_and_its_data(layer: Path) -> None:
    package = layer / "python" / "comeback"
    for module in ("app/settings.py", "app/topology.py", "app/runtime.py", "app/observability.py"):
        assert (package / module).is_file()
    source = ROOT / "shared" / "comeback"
    data = [
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file()
        and p.suffix in {".yaml", ".yml", ".j2", ".html", ".txt"}
        and p.relative_to(source).parts[0] not in DEV_ONLY
    ]
    assert data and all((package / p).is_file() for p in data)
    assert not (layer / "python" / "bin").exists()
    assert (layer / "python" / "aws_lambda_powertools").is_dir()


def test_layer_carries_no_dev_only_code(layer: Path) -> None:
    package = layer / "python" / "comeback"
    assert {"local", "demo", "cli"} <= DEV_ONLY
    assert not [name for name in DEV_ONLY if (package / name).exists()]
    assert not list(package.rglob("emulator*")) and not list(package.rglob("generator*"))


def test_every_source_in_the_layer_has_unchecked_cpython_313_bytecode(layer: Path) -> None:
    magic = subprocess.run(
        [_python313(), "-I", "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    sources = list((layer / "python").rglob("*.py"))
    assert len(sources) > 500  # the dependencies are there, not only comeback
    missing, wrong = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"
        if not compiled.is_file():
            missing.append(source)
            continue
        header = compiled.read_bytes()[:8]
        if header[:4].hex() != magic or struct.unpack("<I", header[4:8])[0] != UNCHECKED_HASH:
            wrong.append(compiled)
    assert not missing, missing[:5]
    assert not wrong, wrong[:5]
    # one interpreter's bytecode only: nothing another Python left in a wheel
    strays = [p for p in (layer / "python").rglob("*.pyc") if f".{CACHE_TAG}." not in p.name]
    assert not strays, strays[:5]


def test_layer_bytecode_names_the_path_lambda_mounts(layer: Path) -> None:
    # a .pyc is a 16-byte header, then the marshalled code object
    probe = "import marshal, sys; print(marshal.loads(open(sys.argv[1], 'rb').read()[16:]).co_filename)"
    compiled = layer / "python" / "comeback" / "app" / "__pycache__" / f"topology.{CACHE_TAG}.pyc"
    shown = subprocess.run(
        [_python313(), "-I", "-c", probe, str(compiled)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == "/opt/python/comeback/app/topology.py"


@pytest.mark.parametrize("function", TOPOLOGY.functions, ids=lambda f: f.name)
def test_every_handler_imports_under_python313_from_the_layer_alone(
    host_layer: Path, function: object
) -> None:
    """Nothing a handler imports was left out as dev-only, and no dev-only module is imported."""
    name = function.name  # type: ignore[attr-defined]
    probe = (
        "import sys, json; sys.path[:0] = sys.argv[1:3]; import handler, comeback; "
        "print(json.dumps([comeback.__file__, sorted(m for m in sys.modules if m.startswith('comeback'))]))"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "ap-northeast-1",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    answer = subprocess.run(
        [_python313(), "-I", "-c", probe, str(ROOT / "functions" / name), str(host_layer / "python")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr
    package, modules = json.loads(answer.stdout.strip().splitlines()[-1])
    assert package.startswith(str(host_layer))
    assert "comeback.app.observability" in modules
    dev_only = {name.removesuffix(".py") for name in DEV_ONLY}
    assert not [m for m in modules if m.count(".") and m.split(".")[1] in dev_only]


def test_the_layer_is_rebuilt_only_when_uv_lock_or_the_shipped_sources_change(
    tmp_path: Path, layer: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, project / name)
    shutil.copytree(
        ROOT / "shared" / "comeback",
        project / "shared" / "comeback",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    target = tmp_path / "layer"

    assert ensure_layer(target, project) is True  # missing: built
    assert (target / STAMP).read_text(encoding="utf-8").strip() == fingerprint(project)
    marker = target / "python" / "marker"
    marker.write_text("still the same build", encoding="utf-8")
    assert ensure_layer(target, project) is False  # current: nothing done
    assert marker.is_file()

    # dev-only code is not in the layer, so changing it leaves the layer current
    (project / "shared" / "comeback" / "local" / "server.py").write_text("# edited\n", encoding="utf-8")
    assert is_current(target, project)
    # a shipped source, or the lock, makes it stale
    with (project / "shared" / "comeback" / "app" / "topology.py").open("a", encoding="utf-8") as source:
        source.write("# edited\n")
    assert not is_current(target, project)
    shutil.copy2(
        ROOT / "shared" / "comeback" / "app" / "topology.py",
        project / "shared" / "comeback" / "app" / "topology.py",
    )
    assert is_current(target, project)
    with (project / "uv.lock").open("a", encoding="utf-8") as lock:
        lock.write("# a changed lock\n")
    assert ensure_layer(target, project) is True
    assert not marker.exists()  # really rebuilt
    assert is_current(target, project)
    assert list((target / "python" / "pydantic" / "__pycache__").glob(f"*.{CACHE_TAG}.pyc"))


def test_an_interrupted_build_leaves_no_stamp_so_the_next_one_builds(tmp_path: Path, layer: Path) -> None:
    target = tmp_path / "layer"
    shutil.copytree(layer, target)
    assert is_current(target)
    (target / STAMP).unlink()  # what a build killed before its last step leaves
    assert not is_current(target)


def test_without_cpython_313_the_build_stops_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packaging, "_python313_candidates", lambda: iter([sys.executable]))
    find_python313.cache_clear()
    try:
        with pytest.raises(LayerBuildError, match=r"no CPython 3\.13 found.*COMEBACK_PYTHON313"):
            build_layer(tmp_path / "layer")
    finally:
        find_python313.cache_clear()
    assert not (tmp_path / "layer").exists()  # stopped before downloading anything


def test_a_directory_that_is_not_a_layer_is_never_replaced(tmp_path: Path) -> None:
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("mine", encoding="utf-8")
    _python313()
    with pytest.raises(LayerBuildError, match="not a layer directory"):
        build_layer(precious)
    assert (precious / "todo.txt").read_text(encoding="utf-8") == "mine"


def test_the_cdk_app_builds_a_missing_layer_itself_as_cdk_synth_runs_it(tmp_path: Path, layer: Path) -> None:
    """`npx cdk synth`: the CLI runs cdk.json's "app" with the context and outdir in the environment."""
    cdk = json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))
    target = tmp_path / "layer"
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_CONTEXT_JSON": json.dumps({**cdk["context"], "layer_dir": str(target)}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
        # what the CDK CLI (2.1148) sets for its app; uv takes any FORCE_COLOR as "colour on"
        "FORCE_COLOR": "0",
        "COLOR": "0",
    }
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    answer = subprocess.run(
        cdk["app"], shell=True, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert answer.returncode == 0, answer.stderr[-3000:]
    assert is_current(target)
    assets = json.loads((tmp_path / "cdk.out" / "Comeback.assets.json").read_text(encoding="utf-8"))["files"]
    staged = [
        tmp_path / "cdk.out" / a["source"]["path"]
        for a in assets.values()
        if a["source"]["packaging"] == "zip"
    ]
    layers = [p for p in staged if (p / "python").is_dir()]
    handlers = [p for p in staged if (p / "handler.py").is_file()]
    assert len(layers) == 1 and not (layers[0] / STAMP).exists()
    assert (layers[0] / "python" / "comeback" / "app" / "__pycache__" / f"runtime.{CACHE_TAG}.pyc").is_file()
    assert len(handlers) == len(TOPOLOGY.functions)
    assert all((h / "__pycache__" / f"handler.{CACHE_TAG}.pyc").is_file() for h in handlers)


def _installed_like_uv(site: Path) -> None:
    """What `uv pip install --target <site>` leaves: a dist-info whose RECORD lists a console script
    with the build directory's absolute path, bytecode since removed, and a direct_url.json."""
    info = site / "example-1.0.dist-info"
    (site / "example").mkdir(parents=True)
    (site / "example" / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    info.mkdir()
    (info / "METADATA").write_text("Name: example\nVersion: 1.0\n", encoding="utf-8")
    (info / "direct_url.json").write_text(f'{{"url": "file://{site}/example.whl"}}', encoding="utf-8")
    (info / "RECORD").write_text(
        "\n".join(
            [
                "example/__init__.py,sha256=abc,10",
                f"{site}/bin/example,sha256=def,200",
                "../../bin/example-tool,sha256=ghi,100",
                "example/__pycache__/__init__.cpython-311.pyc,,",
                "example-1.0.dist-info/METADATA,sha256=jkl,30",
                "example-1.0.dist-info/RECORD,,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )


def test_the_layer_metadata_and_mtimes_do_not_depend_on_the_build_path(tmp_path: Path) -> None:
    from aws_cdk import FileSystem

    sites = [tmp_path / "checkout-a" / "python", tmp_path / "elsewhere" / "deeper" / "python"]
    for site in sites:
        _installed_like_uv(site)
        packaging.normalise_dist_info(site)
        packaging.fix_mtimes(site)
    record = (sites[0] / "example-1.0.dist-info" / "RECORD").read_text(encoding="utf-8")
    assert str(tmp_path) not in record
    assert record.splitlines() == [
        "example-1.0.dist-info/METADATA,sha256=jkl,30",
        "example-1.0.dist-info/RECORD,,",
        "example/__init__.py,sha256=abc,10",
    ]
    assert not (sites[0] / "example-1.0.dist-info" / "direct_url.json").exists()
    assert {p.stat().st_mtime for p in sites[0].rglob("*")} == {packaging.FIXED_MTIME}

    def tree(site: Path) -> dict[str, bytes]:
        return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}

    assert tree(sites[0]) == tree(sites[1])
    # the hash the CDK gives the layer's asset (what decides whether a new layer version is published)
    assert FileSystem.fingerprint(str(sites[0])) == FileSystem.fingerprint(str(sites[1]))


def test_the_built_layer_lists_no_path_of_the_build_machine(layer: Path) -> None:
    for record in (layer / "python").glob("*.dist-info/RECORD"):
        text = record.read_text(encoding="utf-8")
        # (a directory, with its slash: `pydantic/root_model.py` names no home called /root)
        assert "/tmp/" not in text and f"{Path.home()}/" not in text, record
        assert not [line for line in text.splitlines() if line.startswith(("/", ".."))], record
