"""The insight reports as an operator gets them: a shop's history posted over HTTP to `comeback
local serve`, the daily job run as its schedule would, then `comeback report ... --local URL` typed
at a shell, the HTML opened in headless Chromium; and the preference page a customer opens from
an email, in the same browser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from comeback.local.launch import local_serve
from tests.e2e.conftest import Client, free_port, quiet_loyalty
from tests.e2e.test_cli import comeback, one_error_line
from tests.e2e.test_recipes import send, sweep
from tests.support import order, shop_event
from tests.support_browser import dump_dom, page_with_console, screenshot

pytestmark = pytest.mark.e2e

START = datetime.fromisoformat("2026-01-05T12:00:00+09:00")
ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"


@pytest.fixture(scope="module")
def local() -> Iterator[Client]:
    # welcome on: its first email (at once) carries the preference link the browser opens
    flags = quiet_loyalty(document={"welcome": {"enabled": True}})
    with local_serve(
        "--port", str(free_port()), "--start", START.isoformat(), "--no-schedules", *flags
    ) as base:
        client = Client(base)
        send(client, history())
        assert client.post("/_local/segments")["shops"]["demo"] is not None
        yield client


def history() -> list[dict[str, Any]]:
    """Forty customers over 2025 (an imported history: nobody is messaged for it), every fourth
    coming back a month and two months later, and one new subscriber today."""
    events: list[dict[str, Any]] = []
    for i in range(40):
        who = {"id": f"c{i:02d}", "email": f"c{i:02d}@example.com"}
        first = datetime.fromisoformat("2025-03-01T10:00:00+09:00") + timedelta(days=6 * i)
        events.append(order(f"c{i:02d}-1", first.isoformat(), who, total=str(3000 + 100 * i)))
        if i % 4 == 0:
            for n in (1, 2):
                at = first + timedelta(days=30 * n)
                events.append(order(f"c{i:02d}-{n + 1}", at.isoformat(), who, total="2500"))
    new = {"id": "hana", "email": "hana@example.com"}
    data = {"first_name": "Hana", "locale": "en", "accepts_marketing": True}
    events.append(
        shop_event("customer.updated", id="u-hana", occurred_at=START.isoformat(), customer=new, data=data)
    )
    return events


def test_report_all_as_json_holds_every_section_from_the_shops_history(local: Client) -> None:
    answer = comeback("report", "all", "--local", local.base, "--format", "json", "--backtest")
    assert answer.returncode == 0, answer.stderr
    doc = json.loads(answer.stdout)
    assert doc["shop_id"] == "demo" and doc["currency"] == "JPY"
    assert set(doc) >= {"retention", "cohorts", "rfm", "clv", "predictions", "recipes", "calendar"}
    months = {p["period"]: p for p in doc["retention"]["periods"]}
    assert sum(p["new_customers"] for p in months.values()) == 40
    assert sum(p["orders"] for p in months.values()) == 40 + 2 * 10
    assert doc["clv"]["historic"]["customers"] == 40
    assert sum(s["customers"] for s in doc["rfm"]["segments"]) == 40
    # forty buyers are far from a model: the report says why, and still backtests nothing false
    assert doc["predictions"]["model"] is None and doc["predictions"]["reason"]
    assert len(doc["calendar"]["by_day"]) == 14


def test_report_tables_and_one_line_errors(local: Client) -> None:
    table = comeback("report", "retention", "--local", local.base)
    assert table.returncode == 0, table.stderr
    assert "retention by month" in table.stdout and "2025-03" in table.stdout
    cohorts = comeback("report", "cohorts", "--local", local.base, "--by", "channel")
    assert cohorts.returncode == 0 and "cohorts by first order's channel" in cohorts.stdout
    assert "no shop 'nope'" in one_error_line(
        comeback("report", "rfm", "--local", local.base, "--shop", "nope")
    )
    assert "--since" in one_error_line(comeback("report", "rfm", "--local", local.base, "--since", "May"))


def test_the_html_report_opens_in_chromium_with_every_chart_drawn(local: Client, tmp_path: Path) -> None:
    for lang in ("en", "ja"):
        answer = comeback("report", "all", "--local", local.base, "--format", "html", "--lang", lang)
        assert answer.returncode == 0, answer.stderr
        page = ARTEFACTS / f"local-report-{lang}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(answer.stdout, encoding="utf-8")
        assert f'<html lang="{lang}">' in answer.stdout
        assert not re.search(r'(?:src|href)="https?://', answer.stdout), "the report fetches from the network"
        charts = answer.stdout.count("<svg") and len(re.findall(r"<svg[^>]*data-chart=", answer.stdout))
        dom = dump_dom(page)
        drawn = re.search(r'data-charts="(\d+)/(\d+)"', dom)
        errors = re.search(r'data-errors="(\d+)"', dom)
        assert drawn and errors, dom[:2000]
        assert errors.group(1) == "0", dom[dom.find('id="errors"') :][:1000]
        assert drawn.group(1) == drawn.group(2) == str(charts), drawn.group(0)
        print(screenshot(page, ARTEFACTS / f"local-report-{lang}.png"))


def test_the_preference_page_from_a_welcome_email_renders_in_chromium_without_console_messages(
    local: Client,
) -> None:
    sweep(local)
    emails = [e for e in local.get("/_local/outbox") if e["to"] == "hana@example.com"]
    assert [e["campaign"] for e in emails] == ["welcome"], emails
    found = re.fullmatch(r"<(https?://[^>]+)>", emails[0]["headers"]["List-Unsubscribe"])
    assert found, emails[0]["headers"]
    url = local.base + urlsplit(found.group(1)).path
    dom, console = page_with_console(url)
    assert "email preferences" in dom and 'name="leave_all"' in dom, dom[:1500]
    assert console == [], console
    print(screenshot(url, ARTEFACTS / "preference-page.png", height=1200))
