"""Import time of each handler module in a fresh interpreter (the cold-start work we control)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from typing import Any

from comeback.local.lambdas import REPO_ROOT
from comeback.topology import TOPOLOGY

PROBE = """
import importlib.util, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(f"{(time.perf_counter() - start) * 1000:.1f}")
"""


def _once(path: str, lambda_like: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_TRACE")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the warm-up run writes the .pyc files the others read
    if lambda_like:
        # Powertools turns X-Ray tracing on inside Lambda: the SDK import is part of a cold start there
        env["AWS_LAMBDA_FUNCTION_NAME"] = "bench"
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    answer = subprocess.run(
        [sys.executable, "-c", PROBE, path], capture_output=True, text=True, env=env, check=True
    )
    return float(answer.stdout.strip().splitlines()[-1])


def run(repeats: int = 5) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for function in TOPOLOGY.functions:
        path = str(REPO_ROOT / function.handler_path)
        _once(path, False)  # compile .pyc files once, as a deployed package would have them
        traced = [_once(path, True) for _ in range(repeats)]
        untraced = [_once(path, False) for _ in range(repeats)]
        results[function.name] = {
            "median_ms_with_xray_tracer": round(statistics.median(traced), 1),
            "median_ms_tracing_disabled": round(statistics.median(untraced), 1),
        }
    return results
