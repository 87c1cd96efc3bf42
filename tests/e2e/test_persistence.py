"""`comeback local serve --data DIR`: the emulated AWS and the runtime's state survive a restart."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from comeback.local.lambdas import REPO_ROOT
from comeback.local.launch import local_serve
from tests.e2e.conftest import Client, free_port, quiet_loyalty
from tests.support import DEMO_SECRET, order, shop_event, signed

pytestmark = pytest.mark.e2e

START = "2026-01-05T12:00:00+09:00"
HANAKO = {"id": "c-42", "email": "hanako@example.com"}


def serve(*args: str, **kwargs):
    return local_serve("--port", str(free_port()), "--start", START, *quiet_loyalty(), *args, **kwargs)


def now(local: Client) -> datetime:
    return datetime.fromisoformat(local.get("/_local/clock")["now"].replace("Z", "+00:00"))


def send(local: Client, events: list[dict], shop: str = "demo", secret: str = DEMO_SECRET):
    body = json.dumps({"events": events}, ensure_ascii=False).encode()
    # signed on the real clock, as a shop's signer does (the simulated one may be months ahead)
    return local.call("POST", f"/v1/shops/{shop}/events", body, signed(body, secret=secret))


def hanakos_first_events(at: str) -> list[dict]:
    return [
        shop_event(
            "customer.updated",
            id="u1",
            occurred_at=at,
            customer=HANAKO,
            data={"first_name": "Hanako", "locale": "ja", "accepts_marketing": True},
        ),
        order("o1", at, HANAKO, total="6800"),
    ]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comeback.cli", *args],
        check=False,  # the tests read the status
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def without_now(stats: dict) -> dict:
    return {k: v for k, v in stats.items() if k != "now"}


def test_a_restart_on_the_same_data_keeps_contacts_outbox_clock_shops_and_dedupe(tmp_path):
    data = tmp_path / "state"
    output = io.StringIO()
    with serve("--data", str(data), output=output) as base:
        local = Client(base)
        first = hanakos_first_events(now(local).isoformat())
        assert send(local, first)[0] == 202
        local.post("/_local/drain")
        created = cli("shops", "--local", base, "create", "tea-house", "--name", "Tea House")
        assert created.returncode == 0, created.stderr
        tea_secret = next(
            line.split()[-1] for line in created.stdout.splitlines() if line.startswith("signing secret")
        )
        local.post("/_local/clock", {"advance_days": 91})
        assert local.post("/_local/sweep")["drained"]
        outbox = local.get("/_local/outbox")
        assert [(m["to"], m["campaign"]) for m in outbox] == [("hanako@example.com", "winback")]
        contact = local.get("/_local/contacts/demo/c-42")
        stats = local.get("/_local/stats")
        clock = now(local)
        # the directory belongs to this runtime while it runs: a second one is refused in one line
        second = cli("local", "serve", "--port", str(free_port()), "--data", str(data))
        assert second.returncode == 2
        assert second.stderr.strip().endswith("is in use by another comeback local serve")
    assert "state: kept in" in output.getvalue() and "(new)" in output.getvalue()

    output = io.StringIO()
    with serve("--data", str(data), output=output) as base:
        local = Client(base)
        assert "restored snapshot" in output.getvalue()
        # the same contact, but for its RFM scores: the daily segmentation may have run meanwhile
        rfm_free = {"rfm": None, "rfm_segment": None}
        assert {**local.get("/_local/contacts/demo/c-42"), **rfm_free} == {**contact, **rfm_free}
        assert local.get("/_local/outbox") == outbox
        assert without_now(local.get("/_local/stats")) == without_now(stats)
        # time stood still while the runtime was down (a fresh start would be back at --start)
        assert timedelta(0) <= now(local) - clock < timedelta(minutes=2)
        listed = cli("shops", "--local", base, "list")
        assert listed.returncode == 0 and "tea-house" in listed.stdout, listed
        tea = {"id": "t-1", "email": "taro@example.com"}
        assert send(local, [order("t-o1", now(local).isoformat(), tea)], "tea-house", tea_secret)[0] == 202

        assert send(local, first)[0] == 202  # the same event ids again: still duplicates
        local.post("/_local/drain")
        # the same contact, but for its RFM scores: the daily segmentation may have run meanwhile
        rfm_free = {"rfm": None, "rfm_segment": None}
        assert {**local.get("/_local/contacts/demo/c-42"), **rfm_free} == {**contact, **rfm_free}
        assert local.get("/_local/contacts/tea-house/t-1")["orders_count"] == 1
        assert send(local, [order("o2", now(local).isoformat(), HANAKO, total="1200")])[0] == 202
        local.post("/_local/drain")
        after = local.get("/_local/contacts/demo/c-42")
        assert (after["orders_count"], after["total_spent_minor"]) == (2, 8000)


def test_without_data_a_restart_starts_empty(tmp_path):
    output = io.StringIO()
    with serve(output=output) as base:
        local = Client(base)
        assert send(local, hanakos_first_events(now(local).isoformat()))[0] == 202
        local.post("/_local/drain")
        assert local.get("/_local/contacts/demo/c-42")["orders_count"] == 1
        local.post("/_local/clock", {"advance_days": 91})
        assert local.call("POST", "/_local/snapshot", {})[0] == 409
    assert "state: in memory" in output.getvalue()
    with serve() as base:
        local = Client(base)
        assert local.call("GET", "/_local/contacts/demo/c-42")[0] == 404
        assert local.get("/_local/outbox") == []
        assert now(local) < datetime.fromisoformat(START) + timedelta(days=1)


def test_a_kill_9_loses_only_what_came_after_the_last_periodic_snapshot(tmp_path):
    data = tmp_path / "state"
    processes: list[subprocess.Popen[str]] = []
    with serve("--data", str(data), started=processes.append) as base:
        local = Client(base)
        assert send(local, hanakos_first_events(now(local).isoformat()))[0] == 202
        local.post("/_local/drain")
        deadline = time.monotonic() + 30
        # a changed runtime is snapshotted within a few seconds, unasked
        while not (data / "state.json").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (data / "state.json").exists()
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=10)
    with serve("--data", str(data)) as base:
        assert Client(base).get("/_local/contacts/demo/c-42")["orders_count"] == 1


@pytest.mark.parametrize(
    ("contents", "says"),
    [
        ({"state.json": json.dumps({"format": 99, "moto": "0.1"})}, "holds state of format 99"),
        ({"state.json": "{not json"}, "state.json is unreadable"),
        ({"notes.txt": "mine"}, "holds files but no state.json"),
    ],
)
def test_a_directory_it_cannot_use_is_refused_in_one_line(tmp_path: Path, contents, says):
    for name, text in contents.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    refused = cli("local", "serve", "--port", str(free_port()), "--data", str(tmp_path))
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1 and says in refused.stderr, refused.stderr
