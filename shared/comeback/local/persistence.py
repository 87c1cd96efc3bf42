"""`comeback local serve --data DIR`: the emulated AWS and the runtime's own state, kept across restarts.

moto 5 has no persistence of its own, so each emulator process pickles its moto backends (every
service it has served: tables and items, queues and their messages, buses and rules, SES identities
and the sent emails, secrets) when asked, and unpickles them before it serves its first request.
Dumping through the AWS APIs instead would lose what no API gives back (the emails SES sent, the
receive counts and ids of queued messages, secrets' versions) and would provision twice.

The emulator processes' side (pickling, loading, their request gate) is in `emulator_process`;
this module is the runtime's side: the directory, its generations, and when to snapshot.

A snapshot is taken with the runtime paused (`Gate`): no function runs and no emulator request is
half done, so the processes' pictures agree with each other. It is written as one generation:
every file under a new name (temp file, fsync, rename), then `state.json` naming them, replaced
atomically; only then are the older generation's files removed. A crash at any point leaves the
previous generation or the new one, never a mix. Snapshots are taken on `POST /_local/snapshot`,
every few seconds when something changed, and at a clean stop (SIGTERM, SIGINT); a `kill -9`
loses what happened since the last one (at most `PERIOD_SECONDS` of work). Messages a function
had received but not finished are delivered again after a restore, as Lambda would after a crash.

The pickles hold moto's own objects, so a directory is tied to this `FORMAT` and moto version: any
other gives a one-line error, never a half-restored emulator. Unpickling runs code: use only
directories this machine wrote.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from comeback.local.emulator_process import Gate, write_atomically
from comeback.local.lambdas import Invoker

FORMAT = 1
MANIFEST = "state.json"
LOCK = ".lock"
PERIOD_SECONDS = 5.0  # how often a changed runtime is snapshotted (what a kill -9 can lose)


class DataDirError(Exception):
    """The --data directory cannot be used; the message is one line for the operator."""


def moto_version() -> str:
    return metadata.version("moto")


class GatedInvoker(Invoker):
    """A function invocation that waits while a snapshot is being taken."""

    def __init__(self, function: Any, module: ModuleType, gate: Gate) -> None:
        super().__init__(function, module)
        self._gate = gate

    def __call__(self, event: dict[str, Any]) -> Any:
        with self._gate.passing():
            return super().__call__(event)


# -- the runtime's side ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Saved:
    generation: int
    moto: dict[str, Path]  # emulator process name -> its pickle
    runtime: dict[str, Any]  # clock, outbox tags, counts
    written_at: str


class DataDir:
    """One --data directory: at most one runtime uses it at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path.expanduser().resolve()
        self._lock: IO[str] | None = None
        self.generation = 0

    def open(self) -> Saved | None:
        """Take the directory; what it holds (None when it is new). Raises DataDirError."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = (self.path / LOCK).open("a+")
        except OSError as exc:
            raise DataDirError(f"--data {self.path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            raise DataDirError(f"--data {self.path} is in use by another comeback local serve") from None
        self._lock = lock
        try:
            return self._read()
        except DataDirError:
            self.close()
            raise

    def _read(self) -> Saved | None:
        manifest = self.path / MANIFEST
        if not manifest.exists():
            strangers = [p.name for p in self.path.iterdir() if not p.name.startswith(".")]
            if strangers:
                raise DataDirError(
                    f"--data {self.path} holds files but no {MANIFEST}: use an empty or new directory"
                )
            return None
        try:
            document = json.loads(manifest.read_text(encoding="utf-8"))
            found_format, found_moto = document.get("format"), document.get("moto")
        except (OSError, ValueError, AttributeError) as exc:
            raise DataDirError(f"--data {self.path}: {MANIFEST} is unreadable ({exc})") from exc
        if found_format != FORMAT or found_moto != moto_version():
            raise DataDirError(
                f"--data {self.path} holds state of format {found_format} written with moto {found_moto}; "
                f"this comeback uses format {FORMAT} with moto {moto_version()}: "
                "start with another directory (or delete this one)"
            )
        try:
            files = document["files"]
            moto = {name: self.path / file for name, file in files["moto"].items()}
            runtime = json.loads((self.path / files["runtime"]).read_text(encoding="utf-8"))
            missing = [str(path) for path in moto.values() if not path.is_file()]
            if missing:
                raise DataDirError(f"--data {self.path}: {MANIFEST} names missing files {missing}")
            generation = int(document["generation"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DataDirError(f"--data {self.path}: {MANIFEST} is unreadable ({exc!r})") from exc
        self.generation = generation
        return Saved(generation, moto, runtime, str(document.get("written_at", "")))

    def write(
        self, dump: Callable[[dict[str, Path]], dict[str, int]], names: list[str], runtime: dict[str, Any]
    ) -> dict[str, Any]:
        """One new generation: `dump(paths)` has each emulator process write its pickle."""
        began = time.perf_counter()
        generation = self.generation + 1
        moto = {name: f"moto-{name}.{generation}.pickle" for name in names}
        sizes = dump({name: self.path / file for name, file in moto.items()})
        runtime_file = f"runtime.{generation}.json"
        write_atomically(self.path / runtime_file, json.dumps(runtime, ensure_ascii=False).encode())
        written_at = datetime.now(UTC).isoformat()
        document = {
            "format": FORMAT,
            "moto": moto_version(),
            "generation": generation,
            "written_at": written_at,
            "files": {"moto": moto, "runtime": runtime_file},
        }
        write_atomically(self.path / MANIFEST, json.dumps(document, indent=2).encode())
        self.generation = generation
        keep = {MANIFEST, LOCK, runtime_file, *moto.values()}
        for path in self.path.iterdir():
            if path.name not in keep and (
                path.name.startswith(("moto-", "runtime.")) or path.suffix == ".tmp"
            ):
                path.unlink(missing_ok=True)  # an older generation, or a temp file a crash left
        return {
            "generation": generation,
            "bytes": sum(sizes.values()) + (self.path / runtime_file).stat().st_size,
            "seconds": round(time.perf_counter() - began, 3),
            "path": str(self.path),
        }

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None


class Periodic(threading.Thread):
    """Snapshots every `period` seconds when `changed()` says something moved since the last one."""

    def __init__(self, snapshot: Callable[[], Any], changed: Callable[[], bool], period: float) -> None:
        super().__init__(name="snapshots", daemon=True)
        self._snapshot = snapshot
        self._changed = changed
        self._period = period
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.wait(self._period):
            try:
                if self._changed():
                    self._snapshot()
            except Exception:
                from comeback.app.observability import logger  # not at the top: the emulator imports us

                logger.exception("periodic snapshot failed")


def describe(data: DataDir | None, saved: Saved | None) -> str:
    """The startup line that says where the state lives."""
    if data is None:
        return "state: in memory, lost at exit (use --data DIR to keep it)"
    if saved is None:
        return f"state: kept in {data.path} (new)"
    return (
        f"state: kept in {data.path} (restored snapshot {saved.generation} of {saved.written_at}, "
        f"clock at {saved.runtime.get('clock')})"
    )
