"""Run `comeback local serve` as a child process: for the demo, the benchmarks and the e2e tests.

`local_serve(...)` starts it, waits for the line that names its URL, yields that URL, and stops the
process on the way out (SIGTERM: a clean stop, which `--data` snapshots). `started`, if given, is
handed the process first (a test can kill it harder). Its output keeps being read (and copied
to `output`, if given) so a full pipe never stalls the runtime mid-write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from comeback.local.lambdas import REPO_ROOT


@contextmanager
def local_serve(
    *args: str,
    output: IO[str] | None = None,
    env: dict[str, str] | None = None,
    started: Callable[[subprocess.Popen[str]], None] | None = None,
) -> Iterator[str]:
    process = subprocess.Popen(  # noqa: S603 - our own CLI, arguments from our own code
        [sys.executable, "-m", "comeback.cli", "local", "serve", *args],
        cwd=REPO_ROOT,
        env={**(env or os.environ), "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    if started is not None:
        started(process)
    seen: deque[str] = deque(maxlen=50)
    base = None
    for line in process.stdout:  # ends when the process exits without ever answering
        _keep(line, seen, output)
        if "listening on" in line:
            base = line.rsplit(" ", 1)[-1].strip()
            break
    try:
        if base is None:
            raise RuntimeError("the local runtime did not start:\n" + "".join(seen))
        threading.Thread(target=_follow, args=(process.stdout, seen, output), daemon=True).start()
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _keep(line: str, seen: deque[str], output: IO[str] | None) -> None:
    seen.append(line)
    if output is not None:
        output.write(line)
        output.flush()


def _follow(stream: IO[str], seen: deque[str], output: IO[str] | None) -> None:
    for line in stream:
        _keep(line, seen, output)
