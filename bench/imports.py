"""Import time of each handler module as Lambda's python3.13 runs it, and what the layer weighs.

Each handler is imported in a fresh CPython 3.13 (`-I`: nothing from this machine's environment or
site-packages) whose path is only the function's folder and the layer's `python/` directory, both
carrying the bytecode the build ships (infra/packaging.py), as /var/task and /opt/python would.
The layer imported is the one `npx cdk synth` deploys, except that on a machine that is not arm64
its wheels are this machine's (the same versions; an aarch64 extension cannot load here).

    python -m bench imports
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from comeback.app.topology import TOPOLOGY
from infra import packaging

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "build" / "layer"

PROBE = """
import importlib, sys, time
sys.path[:0] = sys.argv[1:3]
start = time.perf_counter()
importlib.import_module("handler")  # as Lambda's bootstrap loads the handler module
elapsed = (time.perf_counter() - start) * 1000
mine = [m for m in list(sys.modules.values())
        if getattr(m, "__spec__", None) and m.__spec__.origin and m.__spec__.origin.endswith(".py")]
from_bytecode = sum(1 for m in mine if m.__spec__.cached and __import__("os").path.exists(m.__spec__.cached))
print(f"{elapsed:.1f} {from_bytecode} {len(mine)}")
"""


def _environment(traced: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_TRACE", "PYTHON"))}
    env.setdefault("AWS_REGION", "ap-northeast-1")
    env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
    if traced:
        # Powertools turns X-Ray tracing on inside Lambda: the SDK import is part of a cold start there
        env["AWS_LAMBDA_FUNCTION_NAME"] = "bench"
    else:
        env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def _once(python: str, code: Path, site: Path, traced: bool) -> tuple[float, int, int]:
    answer = subprocess.run(
        # -B: a .pyc missing from the build is compiled on every run, as on Lambda's read-only disk
        [python, "-I", "-B", "-c", PROBE, str(code), str(site)],
        capture_output=True,
        text=True,
        env=_environment(traced),
        check=True,
    )
    elapsed, cached, modules = answer.stdout.split()
    return float(elapsed), int(cached), int(modules)


def layer_for_this_machine() -> Path:
    """build/layer on arm64; elsewhere the same layer with this machine's wheels beside it."""
    host = packaging.host_platform()
    target = LAYER if host == packaging.PLATFORM else ROOT / "build" / f"layer-{host.split('-')[0]}"
    packaging.ensure_layer(target, target_platform=host)
    return target


def layer_size(layer: Path = LAYER) -> dict[str, Any]:
    """What Lambda counts against its 250 MB (unzipped) and what is uploaded (zipped, as the CDK does)."""
    packaging.ensure_layer(layer)
    files = [p for p in layer.rglob("*") if p.is_file() and p.name != packaging.STAMP]
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "layer.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in files:
                zipped.write(path, path.relative_to(layer).as_posix())
        zipped_bytes = archive.stat().st_size
    return {
        "unzipped_mb": round(sum(p.stat().st_size for p in files) / 1e6, 1),
        "zipped_mb": round(zipped_bytes / 1e6, 1),
        "py_files": sum(1 for p in files if p.suffix == ".py"),
        "pyc_files": sum(1 for p in files if p.suffix == ".pyc"),
        "comeback_pyc_bytes": sum(
            p.stat().st_size for p in files if p.suffix == ".pyc" and "comeback" in p.parts
        ),
    }


def run(repeats: int = 5) -> dict[str, Any]:
    python = packaging.find_python313()
    site = layer_for_this_machine() / "python"
    results: dict[str, Any] = {"layer": layer_size(), "python": python, "layer_imported": str(site)}
    with tempfile.TemporaryDirectory(prefix="comeback-bench-task-") as scratch:
        for function in TOPOLOGY.functions:
            code = Path(scratch) / function.name  # what the function's asset holds (/var/task)
            shutil.copytree(
                ROOT / "functions" / function.name, code, ignore=shutil.ignore_patterns("__pycache__")
            )
            packaging.compile_tree(code, "/var/task", python)
            _once(python, code, site, False)  # warm the OS file cache, as a second cold start would find it
            traced = [_once(python, code, site, True) for _ in range(repeats)]
            untraced = [_once(python, code, site, False) for _ in range(repeats)]
            _, cached, modules = traced[-1]
            results[function.name] = {
                "median_ms_with_xray_tracer": round(statistics.median(t[0] for t in traced), 1),
                "median_ms_tracing_disabled": round(statistics.median(t[0] for t in untraced), 1),
                "modules_from_bytecode": f"{cached}/{modules}",
            }
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
