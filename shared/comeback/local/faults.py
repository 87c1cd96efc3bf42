"""Faults the local runtime can inject on request (POST /_local/faults), to watch the engine cope.

`bus_refusals: N` makes the next N PutEvents calls refuse every entry, the way EventBridge answers
when it throttles (`FailedEntryCount` with an ErrorCode per entry): the ingest function retries
the refused entries and, if they are still refused, answers 503.
"""

from __future__ import annotations

import threading
from typing import Any


class FaultyEvents:
    """An EventBridge client that refuses entries while a fault is armed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._refusals = 0
        self.exceptions = inner.exceptions

    def arm(self, refusals: int) -> None:
        with self._lock:
            self._refusals = max(0, refusals)

    def put_events(self, **kwargs: Any) -> Any:
        with self._lock:
            refuse = self._refusals > 0
            if refuse:
                self._refusals -= 1
        if not refuse:
            return self._inner.put_events(**kwargs)
        entries = kwargs["Entries"]
        refused = {
            "ErrorCode": "ThrottlingException",
            "ErrorMessage": "Rate exceeded (injected by /_local/faults)",
        }
        return {"FailedEntryCount": len(entries), "Entries": [dict(refused) for _ in entries]}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
