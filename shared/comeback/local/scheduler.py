"""The local EventBridge Scheduler: fires the topology's schedules on simulated time.

When the clock jumps (say 90 days), a schedule fires once for the jump, not once per missed
period: catching up period by period would replay the same sweep thousands of times for nothing.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from comeback.app.observability import logger
from comeback.app.topology import Schedule
from comeback.domain.clock import Clock, isoformat

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")


def period_of(expression: str) -> timedelta:
    match = _RATE.match(expression.strip())
    if not match:
        raise ValueError(f"the local scheduler understands rate(...) expressions only, not {expression!r}")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": amount})


def scheduled_event(schedule: Schedule, at: datetime) -> dict[str, Any]:
    """What EventBridge Scheduler's universal target hands a function (the default input)."""
    return {
        "version": "0",
        "id": f"local-{schedule.name}-{int(at.timestamp())}",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": isoformat(at),
        "region": "us-east-1",
        "resources": [f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/comeback-{schedule.name}"],
        "detail": {},
        # the input the stack gives each schedule's target (infra/constructs/schedules.py)
        "schedule": schedule.name,
    }


class Scheduler(threading.Thread):
    def __init__(
        self, schedules: tuple[Schedule, ...], clock: Clock, fire: Callable[[Schedule], Any]
    ) -> None:
        super().__init__(name="scheduler", daemon=True)
        self._clock = clock
        self._fire = fire
        self._periods = {s.name: period_of(s.expression) for s in schedules}
        self._schedules = {s.name: s for s in schedules}
        start = clock.now()
        self._last: dict[str, datetime] = {s.name: start for s in schedules}
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stopping.set()

    def ran(self, name: str, at: datetime) -> None:
        """Someone ran this schedule's target by hand (POST /_local/sweep): that counts."""
        with self._lock:
            self._last[name] = max(self._last[name], at)

    def run(self) -> None:
        while not self._stopping.wait(0.5):
            now = self._clock.now()
            for name, schedule in self._schedules.items():
                with self._lock:
                    due = now - self._last[name] >= self._periods[name]
                    if due:
                        self._last[name] = now
                if due:
                    try:
                        self._fire(schedule)
                    except Exception:
                        logger.exception("scheduled target failed", extra={"schedule": name})
