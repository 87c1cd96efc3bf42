"""The whole local runtime over HTTP: signed batches in, time until every queue is drained."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from comeback.app.signing import signed_headers
from comeback.demo.generator import generate
from comeback.domain.clock import parse_iso
from comeback.local.launch import local_serve

SECRET = "whsec_ZGVtby1zZWNyZXQ="


def _call(
    base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.loads(answer.read() or b"null")


def run(events_wanted: int = 2_000) -> dict[str, Any]:
    shop = generate(seed=3, customers=400, days=365)
    events = list(shop.all_events())[:events_wanted]
    serve_args = ("--port", "0", "--no-schedules", "--start", "2025-05-01T00:00:00+09:00")
    with local_serve(*serve_args) as base:
        latencies = []
        began = time.perf_counter()
        for start in range(0, len(events), 100):
            body = json.dumps({"events": events[start : start + 100]}).encode()
            now = _call(base, "GET", "/_local/clock")["now"]
            stamp = int(parse_iso(now).timestamp())
            headers = {**signed_headers(SECRET, body, f"b{start}", stamp), "content-type": "application/json"}
            sent = time.perf_counter()
            _call(base, "POST", "/v1/shops/demo/events", body, headers)
            latencies.append(time.perf_counter() - sent)
        posted = time.perf_counter() - began
        _call(base, "POST", "/_local/drain", b"{}")
        total = time.perf_counter() - began
        return {
            "events": len(events),
            "events_per_second_end_to_end": round(len(events) / total, 1),
            "ingest_requests": len(latencies),
            "ingest_median_latency_ms_per_100_events": round(
                sorted(latencies)[len(latencies) // 2] * 1000, 1
            ),
            "seconds_posting": round(posted, 1),
            "seconds_until_drained": round(total, 1),
        }
