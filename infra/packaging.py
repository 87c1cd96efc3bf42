"""The dependency layer, built without Docker: wheels for Lambda's python3.13 on arm64, plus `comeback`.

`uv export` turns uv.lock into pinned requirements (the runtime dependencies only); `uv pip install`
fetches the manylinux aarch64 / CPython 3.13 wheels of exactly those versions into
`<layer>/python` (where Lambda puts layer code on `sys.path`), and the project's own package is
copied beside them, without its dev-only parts (the local runtime, the demo, the operator CLI).
Only binary wheels are accepted, so nothing is compiled for the wrong machine. uv's cache is tried
first with `--offline`, so a machine that built the layer once rebuilds it without a network.

Every `.py` then gets its bytecode from a real CPython 3.13 (the `cpython-313` tag Lambda's runtime
looks for), with unchecked-hash invalidation: Lambda's filesystem is read-only, so a `.pyc` judged
stale by its source's mtime (zip extraction resets them) could never be rewritten and every cold start
would compile again. The bytecode names `/opt/python/...`, where Lambda mounts the layer, so
tracebacks point at real paths and the same sources always give the same bytes (same asset hash).

The layer's asset hash is the same from any checkout path and any machine: the dist-info RECORD
files that list paths outside the layer (console scripts, written with the staging directory's
absolute path) or files removed since are rewritten without them, sorted, any `direct_url.json`
(an absolute `file://` URL) is dropped, and every file gets the same fixed mtime.

A stamp file in the layer directory holds a fingerprint of what went in (uv.lock, the package
sources, this builder); `ensure_layer` rebuilds only when it differs, which is how `npx cdk synth`
(cdk.json runs infra/app.py) keeps the layer current by itself.

    python -m infra.packaging build/layer           # what `make layer` runs (no-op when current)
    python -m infra.packaging --force build/layer   # rebuild anyway
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared" / "comeback"
# Lambda arm64 (Graviton) on Amazon Linux 2023, glibc 2.34: manylinux_2_28 wheels run there, and
# numpy publishes no older tag any more (manylinux2014 wheels, glibc 2.17, are accepted by it too)
PLATFORM = "aarch64-manylinux_2_28"
PYTHON_VERSION = "3.13"
CACHE_TAG = "cpython-313"  # what the python3.13 runtime's importer looks for in __pycache__
LAMBDA_SITE = "/opt/python"  # where Lambda mounts the layer's python/ directory
STAMP = ".comeback-layer.stamp"
# Never imported by a Lambda function: `comeback local serve` and its emulator, the demo, and the
# operator's command line (with what only it uses). Handlers that import them fail the packaging tests.
DEV_ONLY = frozenset({"local", "demo", "cli"})
NEVER_SHIPPED = frozenset({"__pycache__", ".mypy_cache", ".pytest_cache"})
PYTHON_313_ENV = "COMEBACK_PYTHON313"
# The CDK CLI runs the app with FORCE_COLOR=0, which uv reads as "colour on": escape codes would land
# in the exported requirements (and in the messages shown to the user).
UV_PLAIN = ("--color", "never")
# Every file and directory of the layer gets this mtime (the earliest a zip entry can carry), so
# nothing of when or where it was built reaches the asset.
FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z


class LayerBuildError(RuntimeError):
    """The layer cannot be built here; the message says what to do."""


def uv() -> str:
    """The uv the Makefile uses: on PATH, or the one it bootstraps into .tools/."""
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise LayerBuildError("uv is needed to build the layer: run `make install` first")
    return found


def _python313_candidates() -> Iterator[str]:
    if os.environ.get(PYTHON_313_ENV):
        yield os.environ[PYTHON_313_ENV]
    on_path = shutil.which("python3.13")
    if on_path:
        yield on_path  # may be a pyenv shim that refuses to run: checked below
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    yield from sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True)
    yield from ("/usr/local/bin/python3.13", "/usr/bin/python3.13")


def _is_cpython_313(candidate: str) -> bool:
    try:
        answer = subprocess.run(
            [candidate, "-I", "-c", "import sys; print(sys.implementation.cache_tag)"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return False
    return answer.returncode == 0 and answer.stdout.strip() == CACHE_TAG


@cache
def find_python313() -> str:
    """A CPython 3.13 interpreter that really runs (not just a shim); LayerBuildError if none."""
    tried: list[str] = []
    for candidate in _python313_candidates():
        if candidate not in tried:
            tried.append(candidate)
            if _is_cpython_313(candidate):
                return candidate
    raise LayerBuildError(
        "no CPython 3.13 found to compile the layer's bytecode for Lambda's python3.13 runtime "
        f"(tried: {', '.join(tried) or 'nothing on PATH'}); install one (`pyenv install 3.13`, "
        f"`uv python install 3.13`, or the OS package) or set {PYTHON_313_ENV}=/path/to/python3.13"
    )


def compile_tree(directory: Path, shown_as: str, python: str | None = None) -> None:
    """Write `__pycache__/*.cpython-313.pyc` beside every `.py` under `directory`, for CPython 3.13.

    `shown_as` is the path the code will have at run time (recorded in the bytecode for tracebacks)."""
    interpreter = python or find_python313()
    answer = subprocess.run(
        [
            interpreter,
            "-I",  # nothing from this machine's PYTHON* variables or user site
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(directory),
            "-p",
            shown_as,
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        raise LayerBuildError(
            f"compiling {directory} with {interpreter} failed:\n{answer.stdout}{answer.stderr}"
        )


def requirements(project: Path = ROOT) -> str:
    """Pinned runtime requirements from uv.lock (no dev group, no hashes, not the project itself)."""
    answer = subprocess.run(
        [uv(), *UV_PLAIN, "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    return answer.stdout


def _ignore_for(package: Path) -> Callable[[str, list[str]], set[str]]:
    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in NEVER_SHIPPED or n.endswith(".pyc")}
        if Path(directory) == package:
            skipped |= DEV_ONLY & set(names)
        return skipped

    return ignore


def shipped_sources(package: Path = PACKAGE) -> list[Path]:
    """The files of the package the layer carries, relative to it, sorted."""
    ignore = _ignore_for(package)
    found: list[Path] = []
    for directory, dirs, files in os.walk(package):
        skipped = ignore(directory, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in skipped)
        found += [Path(directory, f).relative_to(package) for f in files if f not in skipped]
    return sorted(found)


def fingerprint(project: Path = ROOT, target_platform: str = PLATFORM) -> str:
    """What the layer is made of: uv.lock, the package files it ships, this builder, the target."""
    digest = hashlib.sha256()
    package = project / "shared" / "comeback"
    parts = [
        ("platform", f"{target_platform} {PYTHON_VERSION} {CACHE_TAG}".encode()),
        ("uv.lock", (project / "uv.lock").read_bytes()),
        ("builder", Path(__file__).read_bytes()),
    ]
    parts += [(f"comeback/{p.as_posix()}", (package / p).read_bytes()) for p in shipped_sources(package)]
    for name, content in parts:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


def is_current(target: Path, project: Path = ROOT, target_platform: str = PLATFORM) -> bool:
    stamp = Path(target) / STAMP
    return (
        (Path(target) / "python").is_dir()
        and stamp.is_file()
        and stamp.read_text(encoding="utf-8").strip() == fingerprint(project, target_platform)
    )


def _install_wheels(requirements_file: Path, staging: Path, project: Path, target_platform: str) -> None:
    command = [
        uv(),
        *UV_PLAIN,
        "pip",
        "install",
        "--quiet",
        "--no-deps",  # the export is already the complete, pinned closure
        "--only-binary",
        ":all:",
        "--python-platform",
        target_platform,
        "--python-version",
        PYTHON_VERSION,
        "--target",
        str(staging),
        "-r",
        str(requirements_file),
    ]
    # From uv's cache alone first: synthesis works without a network once the wheels were fetched.
    offline = subprocess.run(
        [*command, "--offline"], cwd=project, capture_output=True, text=True, check=False
    )
    if offline.returncode == 0:
        return
    online = subprocess.run(command, cwd=project, capture_output=True, text=True, check=False)
    if online.returncode != 0:
        raise LayerBuildError(
            "uv could not install the layer's wheels, neither from its cache (offline) nor from the "
            "package index (with no network, run `make layer` once where there is one). uv said:\n"
            + (online.stderr or offline.stderr).strip()
        )


def normalise_dist_info(site: Path) -> None:
    """Make the installed distributions' metadata independent of where they were installed.

    Each `*.dist-info/RECORD` keeps, sorted, only the rows of files that are in `site` now under a
    relative path: not the console scripts (removed, and listed with the build directory's absolute
    path) nor bytecode of another interpreter (removed). `direct_url.json`, which names where a
    wheel came from on this machine, is dropped (nothing in Lambda reads it)."""
    site = Path(site)
    for info in sorted(site.glob("*.dist-info")):
        (info / "direct_url.json").unlink(missing_ok=True)
        record = info / "RECORD"
        if not record.is_file():
            continue
        with record.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        kept = {
            tuple(row)
            for row in rows
            if row
            and not Path(row[0]).is_absolute()
            and ".." not in Path(row[0]).parts
            and (row[0] == f"{info.name}/RECORD" or (site / row[0]).is_file())
        }
        with record.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, lineterminator="\n").writerows(sorted(kept))


def fix_mtimes(directory: Path, mtime: int = FIXED_MTIME) -> None:
    """Every file and directory under `directory` (and itself) gets the same mtime."""
    for path in sorted(Path(directory).rglob("*"), reverse=True):  # children before their directory
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    os.utime(directory, (mtime, mtime))


def build_layer(
    target: Path, project: Path = ROOT, *, target_platform: str = PLATFORM, python: str | None = None
) -> Path:
    """Build the layer into `target` (replacing it) and stamp it; returns `target`."""
    target = Path(target)
    interpreter = python or find_python313()  # before any download: fail fast on a machine without one
    # Taken before anything is copied: a source edited during the build makes the stamp stale, not wrong.
    key = fingerprint(project, target_platform)
    if target.exists() and any(target.iterdir()) and not (target / "python").is_dir():
        raise LayerBuildError(f"{target} exists and is not a layer directory: refusing to replace it")
    with tempfile.TemporaryDirectory(prefix="comeback-layer-") as scratch:
        staging = Path(scratch) / "python"
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text(requirements(project), encoding="utf-8")
        _install_wheels(requirements_file, staging, project, target_platform)
        package = project / "shared" / "comeback"
        shutil.copytree(package, staging / "comeback", ignore=_ignore_for(package))
        for stale in staging.rglob("__pycache__"):  # wheels may carry bytecode of another interpreter
            shutil.rmtree(stale, ignore_errors=True)
        # console scripts carry this machine's interpreter path and are of no use in Lambda
        shutil.rmtree(staging / "bin", ignore_errors=True)
        normalise_dist_info(staging)
        compile_tree(staging, LAMBDA_SITE, interpreter)
        fix_mtimes(staging)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.move(str(staging), str(target / "python"))
    # Written last: an interrupted build leaves no stamp, so the next synthesis builds again.
    (target / STAMP).write_text(key + "\n", encoding="utf-8")
    return target


def ensure_layer(
    target: Path,
    project: Path = ROOT,
    *,
    target_platform: str = PLATFORM,
    log: Callable[[str], None] | None = None,
) -> bool:
    """Build the layer unless its stamp matches what it would be built from; True if it was built."""
    if is_current(target, project, target_platform):
        return False
    if log:
        log(f"building the Lambda layer in {target} (missing, or uv.lock or the package changed)")
    build_layer(target, project, target_platform=target_platform)
    return True


def host_platform() -> str:
    """The manylinux platform of this machine, for a layer that can be imported here (benchmarks)."""
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine())
    return f"{machine}-manylinux_2_28"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("target", nargs="?", default=str(ROOT / "build" / "layer"))
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp is current")
    args = parser.parse_args(argv)
    target = Path(args.target)
    try:
        if args.force:
            build_layer(target)
            built = True
        else:
            built = ensure_layer(target)
    except LayerBuildError as error:
        sys.stderr.write(f"layer: {error}\n")
        return 2
    sys.stdout.write(f"layer {'built' if built else 'up to date'} in {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
