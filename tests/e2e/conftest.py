"""End-to-end: `comeback local serve` as a subprocess on a free port, used over HTTP only."""

from __future__ import annotations

import json
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from comeback.local.launch import local_serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                status, raw, kind = answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        if "json" in kind:
            return status, json.loads(raw or b"null")
        return status, raw.decode("utf-8", "replace")

    def get(self, path: str) -> Any:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, answer = self.call("POST", path, body if body is not None else {})
        assert status == 200, (path, status, answer)
        return answer


# The pipeline, messaging and win-back tests count every email a customer gets. The shipped loyalty
# milestones (a thank-you on every first order), points spent on rewards, birthday and sign-up
# anniversary emails are tests/e2e/test_loyalty.py's to check, the engagement score's rewards
# tests/e2e/test_engagement.py's, and each other recipe's emails its own test's: their runtimes leave
# them out; points and tiers keep running on their defaults.
QUIET_MILESTONES: dict[str, Any] = {
    "loyalty": {"milestones": [], "redeem": None},
    "birthday": {"enabled": False},
}
QUIET_ENGAGEMENT: dict[str, Any] = {"engagement": {"enabled": False}}
QUIET_OTHERS: dict[str, Any] = {
    recipe: {"enabled": False}
    for recipe in ("anniversary", "welcome", "survey", "browse", "cart", "crosssell", "upsell", "nps")
}
QUIET_LOYALTY: dict[str, Any] = {**QUIET_MILESTONES, **QUIET_ENGAGEMENT, **QUIET_OTHERS}


def quiet_loyalty(shop: str = "demo", document: dict[str, Any] | None = None) -> list[str]:
    """`--playbook SHOP=FILE` arguments: `document` (default: none) without the milestone emails."""
    folder = Path(tempfile.mkdtemp(prefix="comeback-playbook-"))
    path = folder / f"{shop}.yaml"
    path.write_text(json.dumps({**QUIET_LOYALTY, **(document or {})}, ensure_ascii=False), encoding="utf-8")
    return ["--playbook", f"{shop}={path}"]


@pytest.fixture(scope="module")
def local() -> Iterator[Client]:
    with local_serve(
        "--port", str(free_port()), "--start", "2026-01-05T12:00:00+09:00", *quiet_loyalty()
    ) as base:
        yield Client(base)
