"""The HTML insight report opened in headless Chromium: no console error, every chart drawn, nothing
loaded from the network, and a screenshot kept under build/test-artefacts/."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from comeback.cli.report_html import SECTIONS, render_html
from tests.support_browser import dump_dom, ensure_chromium, screenshot
from tests.support_report import document, single

pytestmark = pytest.mark.e2e

ARTEFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artefacts"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    ensure_chromium()
    return document()


def opened(page: str, path: Path) -> tuple[dict[str, str], str]:
    """The page's body attributes and the self-check's error messages, after Chromium ran it."""
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(path)
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    errors = re.search(r'<pre id="errors"[^>]*>(.*?)</pre>', dom, re.S)
    return attributes, html.unescape(errors.group(1)) if errors else ""


def network_references(page: str) -> list[str]:
    return re.findall(r"""(?:src|href|action)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""", page) + re.findall(
        r"url\(\s*['\"]?(?:https?:)?//", page
    )


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_report_renders_in_chromium_with_every_chart_drawn_and_no_error(
    doc: dict[str, Any], lang: str, tmp_path: Path
) -> None:
    page = render_html(doc, lang=lang)
    charts = page.count('<svg role="img" data-chart=')
    assert charts >= 13
    assert network_references(page) == []
    attributes, errors = opened(page, tmp_path / f"report-{lang}.html")
    assert attributes.get("data-errors") == "0", errors
    assert attributes.get("data-charts") == f"{charts}/{charts}", errors
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / f"report-{lang}.html").write_text(page, encoding="utf-8")
    shot = screenshot(tmp_path / f"report-{lang}.html", ARTEFACTS / f"report-{lang}.png", height=9000)
    assert shot.stat().st_size > 50_000
    print(f"screenshot: {shot}")


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_alone_renders_in_chromium(doc: dict[str, Any], section: str, tmp_path: Path) -> None:
    page = render_html(single(section, doc), lang="ja")
    charts = page.count('<svg role="img" data-chart=')
    attributes, errors = opened(page, tmp_path / f"{section}.html")
    assert attributes.get("data-errors") == "0", errors
    assert attributes.get("data-charts") == f"{charts}/{charts}", errors


def test_a_new_shops_empty_report_still_draws_every_chart(tmp_path: Path) -> None:
    quiet = {
        "shop_id": "new-shop",
        "generated_at": "2026-01-01T00:00:00Z",
        "currency": "USD",
        "retention": {"periods": []},
        "cohorts": {"cohorts": []},
        "rfm": {"buyers": 0, "segments": []},
        "clv": {"currency": "USD", "historic": None, "predicted": None},
        "predictions": {"model": None, "reason": "no repeat customer yet", "p_alive_bins": []},
        "recipes": {"campaigns": []},
        "calendar": {"from": "2026-01-01", "days": 7, "by_day": []},
    }
    page = render_html(quiet)
    charts = page.count('<svg role="img" data-chart=')
    assert charts >= len(SECTIONS)
    attributes, errors = opened(page, tmp_path / "empty.html")
    assert attributes.get("data-errors") == "0", errors
    assert attributes.get("data-charts") == f"{charts}/{charts}", errors


def test_the_self_check_reports_a_chart_with_nothing_drawn_and_a_script_error(tmp_path: Path) -> None:
    """The check itself is not a rubber stamp: a blank chart and a thrown error are counted."""
    ensure_chromium()
    page = render_html({"shop_id": "s"}).replace(
        "</main>",
        '<svg role="img" data-chart="blank" width="100" height="50"><title>blank</title></svg>'
        "<script>throw new Error('boom')</script></main>",
    )
    attributes, errors = opened(page, tmp_path / "broken.html")
    assert attributes.get("data-charts") == "0/1"
    assert attributes.get("data-errors") == "2", errors
    assert "boom" in errors and "chart not drawn: blank" in errors
