"""Time, behind one dependency, so the local runtime and the tests can move it.

Everything that asks "what time is it" (signature tolerance, due dates, quiet hours, sweeps) asks a
`Clock`. Lambda functions get `SystemClock`; `comeback local serve` installs a `SimulatedClock`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """Wall time shifted by an offset that can be moved forward (or set to any instant).

    It keeps ticking with real time so that timeouts and backoffs still make sense between moves.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the simulated clock only moves forward with advance(); use set()")
        with self._lock:
            self._offset += delta
            return datetime.now(UTC) + self._offset

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware instant")
        with self._lock:
            self._offset = instant - datetime.now(UTC)
            return instant.astimezone(UTC)


class FixedClock:
    """A clock that only moves when told to: for unit tests."""

    def __init__(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> datetime:
        self._now = utc(instant)
        return self._now


def utc(dt: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive datetimes are refused (their zone is unknowable)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp needs a UTC offset")
    return dt.astimezone(UTC)


def isoformat(dt: datetime) -> str:
    """The one string form of an instant we store: UTC, seconds precision kept, sortable as text."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
