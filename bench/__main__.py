"""`make bench`: what the performance targets (README, Benchmarks) measure to, on this machine.

Every figure is measured here, in this run; nothing is asserted. Request counts come from
botocore's own `before-call` events (what the SDK actually sent), not from our code's counters.
Results are printed as a Markdown table (pasted into README) and written to bench/results/.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

from comeback.local import offline_environment

offline_environment("bench", log_level="ERROR")

from bench import (  # noqa: E402 - after the environment
    contacts,
    cost,
    crosssell,
    imports,
    local_runtime,
    loyalty,
    predictions,
    segments,
    sender,
    sweep,
)

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    start = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    loop = time.perf_counter() - start
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "python_loop_5M_s": f"{loop:.2f}",
    }


def main(argv: list[str]) -> int:
    only = set(argv)
    sections = {
        "contacts": contacts.run,
        "abandonment": contacts.abandonment,
        "sweep": sweep.run,
        "sweep_on_paper": cost.sweep_figures,
        "segments": segments.run,
        "predictions": predictions.run,
        "loyalty": loyalty.run,
        "crosssell": crosssell.run,
        "sender": sender.run,
        "imports": imports.run,
        "local_runtime": local_runtime.run,
    }
    report: dict[str, object] = {}
    if only and (RESULTS / "latest.json").exists():  # a partial run updates its sections only
        report = json.loads((RESULTS / "latest.json").read_text())
    report.update({"machine": machine(), "when": time.strftime("%Y-%m-%d %H:%M:%S")})
    for name, run in sections.items():
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        began = time.perf_counter()
        report[name] = run()
        print(json.dumps(report[name], indent=2, ensure_ascii=False), flush=True)
        print(f"   ({time.perf_counter() - began:.0f} s)", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"machine: {report['machine']}")
    print(f"written to {RESULTS / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
