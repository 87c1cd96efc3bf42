"""The "why did you leave" answer end to end, over HTTP, against `comeback local serve`: a reason sent
in a shop's feedback.submitted, and one-click reason links (signed with the runtime's own key, as a
win-back email carries them) recorded once, and refused when forged."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from comeback.domain.clock import FixedClock
from comeback.local.lambdas import REPO_ROOT
from comeback.messaging.reason_links import reason_links
from comeback.messaging.tokens import TokenSigner
from tests.e2e.conftest import Client
from tests.support import order, shop_event, signed

pytestmark = pytest.mark.e2e

MESSAGE = "winback#1#2026-01-05"


def now(local: Client) -> datetime:
    return datetime.fromisoformat(local.get("/_local/clock")["now"].replace("Z", "+00:00"))


def send(local: Client, *events: dict[str, Any]) -> tuple[int, Any]:
    body = json.dumps({"events": list(events)}, ensure_ascii=False).encode()
    return local.call("POST", "/v1/shops/demo/events", body, signed(body, at=int(time.time())))


def customer(local: Client, name: str) -> dict[str, str]:
    person = {"id": f"c-{name}", "email": f"{name}@example.com"}
    status, answer = send(local, order(f"o-{name}", now(local).isoformat(), person, total="3000"))
    assert status == 202 and answer["accepted"] == 1, answer
    local.post("/_local/drain")
    return person


def engine_signer(local: Client) -> TokenSigner:
    """A signer with the runtime's own token key, read from its emulated Parameter Store."""
    settings = local.get("/_local/settings")
    ssm = boto3.client(
        "ssm",
        endpoint_url=settings["aws_endpoints"].get("ssm", settings["aws_endpoint_url"]),
        region_name=settings["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # the emulator takes any credentials
    )
    answer = ssm.get_parameter(Name=settings["token_key_secret"], WithDecryption=True)
    key = answer["Parameter"]["Value"].encode()
    return TokenSigner(lambda: key, FixedClock(now(local)))


def links(local: Client, person: dict[str, str]) -> dict[str, str]:
    """reason -> the path and query of its link (the host is the runtime's public base URL)."""
    urls = reason_links(engine_signer(local), local.base, "demo", person["id"], MESSAGE)
    return {reason: url.removeprefix(local.base) for reason, url in urls.items()}


def contact(local: Client, person: dict[str, str]) -> dict[str, Any]:
    return local.get(f"/_local/contacts/demo/{person['id']}")  # type: ignore[no-any-return]


def feedback_events(local: Client, person: dict[str, str]) -> list[dict[str, Any]]:
    """The contact's feedback.submitted events, as `comeback contacts export --local` prints them."""
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "comeback.cli",
            "contacts",
            "export",
            "demo",
            person["id"],
            "--local",
            local.base,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    items = json.loads(printed.stdout)["items"]
    events = [i["event"] for i in items if isinstance(i.get("event"), dict)]
    return [e for e in events if e.get("type") == "feedback.submitted"]


def test_a_shop_can_send_a_reason_and_an_unknown_reason_is_refused(local: Client) -> None:
    person = {"id": "c-told", "email": "told@example.com"}
    at = now(local).isoformat()
    told = shop_event("feedback.submitted", id="fb-told", occurred_at=at, customer=person)
    told["data"] = {"survey": "inactive_user", "reason": "experience"}
    status, answer = send(local, told)
    assert status == 202 and answer == {"accepted": 1, "rejected": []}
    bad = shop_event("feedback.submitted", id="fb-bad", occurred_at=at, customer=person)
    bad["data"] = {"survey": "inactive_user", "reason": "too expensive"}
    status, answer = send(local, bad)
    assert status == 422 and answer["accepted"] == 0, answer
    (rejection,) = answer["rejected"]
    assert "reason" in rejection["error"] and "price" in rejection["error"], rejection
    local.post("/_local/drain")
    assert [e["data"]["reason"] for e in feedback_events(local, person)] == ["experience"]


def test_a_click_records_the_reason_once_and_a_second_click_changes_nothing(local: Client) -> None:
    person = customer(local, "hiroshi")
    before = contact(local, person)
    paths = links(local, person)
    status, page = local.call("GET", paths["price"], headers={"Accept-Language": "en"})
    assert status == 200 and "Thank you for telling us" in page and "Prices" in page, page
    local.post("/_local/drain")
    after = contact(local, person)
    assert after["events_count"] == before["events_count"] + 1
    (recorded,) = feedback_events(local, person)
    assert recorded["data"]["reason"] == "price" and recorded["data"]["survey"] == "reason"
    # again, later, by GET and by a one-click POST of another reason of the same email
    local.post("/_local/clock", {"advance_days": 1})
    assert local.call("GET", paths["price"])[0] == 200
    assert local.call("POST", paths["forgot"], b"")[0] == 200
    local.post("/_local/drain")
    assert feedback_events(local, person) == [recorded]
    assert contact(local, person)["events_count"] == after["events_count"]


def test_a_forged_link_is_refused_and_changes_nothing(local: Client) -> None:
    person = customer(local, "forged")
    before = contact(local, person)
    genuine = links(local, person)["price"]
    token = urlsplit(genuine).path.rsplit("/", 1)[1]
    body, mac = token.split(".")
    swapped = "A" if mac[0] != "A" else "B"
    elsewhere = TokenSigner(lambda: b"not-the-engine-key", FixedClock(now(local)))
    forgeries = {
        "tampered signature": genuine.replace(token, f"{body}.{swapped}{mac[1:]}"),
        "another key": urlsplit(reason_links(elsewhere, local.base, "demo", person["id"], MESSAGE)["price"]),
        "an unsubscribe token": genuine.replace(
            token, engine_signer(local).issue("demo", person["id"], MESSAGE)
        ),
    }
    for name, forged in forgeries.items():
        path = forged if isinstance(forged, str) else f"{forged.path}?{forged.query}"
        for method in ("GET", "POST"):
            status, page = local.call(method, path, b"" if method == "POST" else None)
            assert status == 404, (name, method, status)
            assert "This link is not valid" in page or "このリンクは無効です" in page, (name, page)
    status, _ = local.call("GET", genuine.replace("reason=price", "reason=cheaper"))
    assert status == 400
    local.post("/_local/drain")
    assert feedback_events(local, person) == []
    assert contact(local, person)["events_count"] == before["events_count"]
