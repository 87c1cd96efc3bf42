"""Putting events on the EventBridge bus: chunked to the API's limits, failed entries retried.

PutEvents takes at most 10 entries and 256 KB per call, and can accept part of a call: each
refused entry comes back with an ErrorCode. Refused entries are retried with backoff; whatever is
still refused after the last attempt raises `PublishError`, which the API answers with 503 so the
shop retries the whole batch (the entries that did get through are then duplicates, which the
contacts function ignores by event id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

MAX_ENTRIES = 10
MAX_CALL_BYTES = 256 * 1024


@dataclass(frozen=True)
class BusEntry:
    source: str
    detail_type: str
    detail: dict[str, Any]

    def encoded(self, bus_name: str) -> dict[str, str]:
        return {
            "EventBusName": bus_name,
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), ensure_ascii=False),
        }


class PublishError(Exception):
    def __init__(self, failed: int, codes: set[str]) -> None:
        super().__init__(f"{failed} entries refused by the bus after retries: {sorted(codes)}")
        self.failed = failed
        self.codes = codes


class Publisher(Protocol):
    def publish(self, entries: Sequence[BusEntry]) -> None: ...


def _entry_size(entry: dict[str, str]) -> int:
    # EventBridge counts Source, DetailType, Detail (and a few fixed bytes) per entry
    return sum(len(entry[k].encode()) for k in ("Source", "DetailType", "Detail")) + 14


def chunks(entries: Sequence[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Split into calls of at most 10 entries and 256 KB."""
    calls: list[list[dict[str, str]]] = []
    current: list[dict[str, str]] = []
    size = 0
    for entry in entries:
        entry_size = _entry_size(entry)
        if current and (len(current) == MAX_ENTRIES or size + entry_size > MAX_CALL_BYTES):
            calls.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_size
    if current:
        calls.append(current)
    return calls


class EventBridgePublisher:
    def __init__(
        self,
        events_client: Any,
        bus_name: str,
        attempts: int = 4,
        backoff_seconds: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = events_client
        self._bus = bus_name
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    def publish(self, entries: Sequence[BusEntry]) -> None:
        failed = 0
        codes: set[str] = set()
        for call in chunks([e.encoded(self._bus) for e in entries]):
            refused = self._put_with_retries(call)
            failed += len(refused)
            codes.update(code for _, code in refused)
        if failed:
            raise PublishError(failed, codes)

    def _put_with_retries(self, call: list[dict[str, str]]) -> list[tuple[dict[str, str], str]]:
        pending = call
        refused: list[tuple[dict[str, str], str]] = []
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            try:
                answer = self._client.put_events(Entries=pending)
            except self._client.exceptions.ClientError as exc:
                # the whole call failed (after botocore's own retries): every entry is refused
                code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
                refused = [(entry, code) for entry in pending]
                continue
            if not answer.get("FailedEntryCount"):
                return []
            # results come back in request order; an ErrorCode marks a refused entry
            refused = [
                (entry, result.get("ErrorCode", "Unknown"))
                for entry, result in zip(pending, answer["Entries"], strict=True)
                if result.get("ErrorCode")
            ]
            pending = [entry for entry, _ in refused]
        return refused
