"""The layer really builds without Docker: aarch64 / CPython 3.13 wheels and the comeback package."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from infra.packaging import build_layer, requirements

EM_AARCH64 = 0xB7


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    little_endian = header[5] == 1
    (machine,) = struct.unpack("<H" if little_endian else ">H", header[18:20])
    return int(machine)


def test_requirements_are_the_pinned_runtime_dependencies_only() -> None:
    pinned = {line.split("==")[0] for line in requirements().splitlines() if "==" in line}
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools", "jinja2", "pyyaml"} <= pinned
    assert not pinned & {"moto", "aws-cdk-lib", "pytest", "cdk-nag", "cfn-lint"}
    assert all(
        "==" in line for line in requirements().splitlines() if line and not line.startswith(("#", " "))
    )


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layer(tmp_path_factory.mktemp("layer") / "layer")


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
    for module in ("settings.py", "topology.py", "runtime.py", "observability.py"):
        assert (package / module).is_file()
    source = Path(__file__).resolve().parents[2] / "shared" / "comeback"
    data = [
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and p.suffix in {".yaml", ".yml", ".j2", ".html", ".txt"}
    ]
    assert all((package / p).is_file() for p in data)
    assert not list(layer.rglob("__pycache__"))
    assert not (layer / "python" / "bin").exists()
    assert (layer / "python" / "aws_lambda_powertools").is_dir()
