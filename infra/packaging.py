"""The dependency layer, built without Docker: wheels for Lambda's python3.13 on arm64, plus `comeback`.

`uv export` turns uv.lock into pinned requirements (the runtime dependencies only); `uv pip install`
fetches the manylinux aarch64 / CPython 3.13 wheels of exactly those versions into
`<layer>/python` (where Lambda puts layer code on `sys.path`), and the project's own package is
copied beside them. Only binary wheels are accepted, so nothing is compiled for the wrong machine.

    python -m infra.packaging build/layer        # what `make layer` runs

The CDK app never builds: it takes the finished directory from the `layer_dir` context, so
synthesis needs no network.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared" / "comeback"
PLATFORM = "aarch64-manylinux2014"  # Lambda arm64 (Graviton) on Amazon Linux 2023, glibc 2.34
PYTHON_VERSION = "3.13"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")


def uv() -> str:
    """The uv the Makefile uses: on PATH, or the one it bootstraps into .tools/."""
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise FileNotFoundError("uv is needed to build the layer: run `make install` first")
    return found


def requirements(project: Path = ROOT) -> str:
    """Pinned runtime requirements from uv.lock (no dev group, no hashes, not the project itself)."""
    answer = subprocess.run(
        [uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=project,
        check=True,
        capture_output=True,
        text=True,
    )
    return answer.stdout


def build_layer(target: Path, project: Path = ROOT) -> Path:
    """Build the layer into `target` (replacing it); returns `target`."""
    target = Path(target)
    site = target / "python"
    with tempfile.TemporaryDirectory(prefix="comeback-layer-") as scratch:
        staging = Path(scratch) / "python"
        requirements_file = Path(scratch) / "requirements.txt"
        requirements_file.write_text(requirements(project), encoding="utf-8")
        subprocess.run(
            [
                uv(),
                "pip",
                "install",
                "--quiet",
                "--no-deps",  # the export is already the complete, pinned closure
                "--only-binary",
                ":all:",
                "--python-platform",
                PLATFORM,
                "--python-version",
                PYTHON_VERSION,
                "--target",
                str(staging),
                "-r",
                str(requirements_file),
            ],
            cwd=project,
            check=True,
        )
        shutil.copytree(project / "shared" / "comeback", staging / "comeback", ignore=IGNORED)
        for cache in staging.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        # console scripts carry this machine's interpreter path and are of no use in Lambda
        shutil.rmtree(staging / "bin", ignore_errors=True)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.move(str(staging), str(site))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", default=str(ROOT / "build" / "layer"))
    args = parser.parse_args(argv)
    path = build_layer(Path(args.target))
    sys.stdout.write(f"layer built in {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
