"""The HTML report as text: every section's charts, only the sections given, escaping, empty and
one-point series still drawn, Japanese labels, nothing fetched from outside the file."""

from __future__ import annotations

import re
from typing import Any

import pytest

from comeback.cli import report_charts as charts
from comeback.cli.report_html import SECTIONS, render_html
from tests.support_report import document, single

CHARTS = {
    "retention": {"retention-rates", "retention-customers", "retention-revenue"},
    "cohorts": {"cohort-share", "cohort-revenue"},
    "rfm": {"rfm-segments"},
    "clv": {"clv-historic", "clv-predicted"},
    "predictions": {"prediction-fit", "prediction-p-alive", "prediction-backtest"},
    "recipes": {"lift-0-winback"},
    "calendar": {"calendar-due"},
}
HOSTILE = '<script>alert("x")</script>&'


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return document()


def chart_ids(page: str) -> set[str]:
    return set(re.findall(r'<svg role="img" data-chart="([^"]+)"', page))


def sections(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)"', page)


def test_the_full_report_draws_every_sections_charts_in_order(doc: dict[str, Any]) -> None:
    page = render_html(doc)
    assert sections(page) == list(SECTIONS)
    assert chart_ids(page) == set().union(*CHARTS.values())
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page


@pytest.mark.parametrize("section", SECTIONS)
def test_a_document_of_one_section_renders_that_section_alone(doc: dict[str, Any], section: str) -> None:
    page = render_html(single(section, doc))
    assert sections(page) == [section]
    # alone, the retention section also shows its historic CLV (in the full report: the CLV section's)
    assert chart_ids(page) == CHARTS[section] | ({"retention-clv"} if section == "retention" else set())


def test_missing_and_none_sections_are_left_out(doc: dict[str, Any]) -> None:
    page = render_html({**single("rfm", doc), "retention": None})
    assert sections(page) == ["rfm"]
    empty = render_html({"shop_id": "s", "generated_at": "2026-01-01T00:00:00Z", "currency": "JPY"})
    assert sections(empty) == [] and "This report holds no section." in empty


def test_every_chart_has_a_title_axis_labels_and_marks(doc: dict[str, Any]) -> None:
    page = render_html(doc)
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        assert 'role="img"' in svg and "<title>" in svg
        assert 'class="mark' in svg
        if "heat" not in svg and 'data-chart="rfm' not in svg:
            assert 'class="axis-label"' in svg


def test_japanese_labels(doc: dict[str, Any]) -> None:
    page = render_html(doc, lang="ja")
    assert '<html lang="ja">' in page
    words = (
        "顧客リテンションレポート",
        "リテンション率",
        "離脱率",
        "コホート",
        "優良顧客",
        "信頼度: 低",
        "リフト",
    )
    assert [w for w in words if w not in page] == []
    assert "Retention rate" not in page
    with pytest.raises(ValueError, match="lang"):
        render_html(doc, lang="fr")


def test_strings_from_the_data_are_escaped(doc: dict[str, Any]) -> None:
    campaign = {**doc["recipes"]["campaigns"][0], "campaign": HOSTILE}
    campaign["rows"] = [{**campaign["rows"][0], "variant": HOSTILE}]
    hostile = {
        **doc,
        "shop_id": HOSTILE,
        "currency": "JPY",
        "cohorts": {**doc["cohorts"], "cohorts": [{**doc["cohorts"]["cohorts"][0], "group": HOSTILE}]},
        "recipes": {"campaigns": [campaign]},
        "calendar": {"from": HOSTILE, "by_day": [{"day": HOSTILE, "due": {HOSTILE: 2}, "held": {}}]},
        "predictions": {"model": None, "reason": HOSTILE, "p_alive_bins": [], "backtest": None},
    }
    page = render_html(hostile)
    assert HOSTILE not in page
    assert page.count("<script>") == 1  # the self-check only
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in page


def test_empty_series_are_drawn_as_a_note_not_an_empty_svg() -> None:
    quiet = {
        "shop_id": "new-shop",
        "generated_at": "2026-01-01T00:00:00Z",
        "currency": "USD",
        "retention": {"periods": [], "clv": None},
        "cohorts": {"cohorts": []},
        "rfm": {"buyers": 0, "segments": [{"segment": "champions", "customers": 0}]},
        "clv": {"currency": "USD", "historic": {"customers": 0, "bins": [], "percentiles_minor": {}}},
        "predictions": {"model": None, "reason": "fewer than 20 repeat customers", "p_alive_bins": []},
        "recipes": {"campaigns": []},
        "calendar": {"from": "2026-01-01", "days": 7, "by_day": []},
    }
    page = render_html(quiet)
    assert sections(page) == list(SECTIONS)
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert svgs and all('class="mark note"' in svg and "no data yet" in svg for svg in svgs)
    assert "fewer than 20 repeat customers" in page


def test_one_point_series_and_zeros_are_drawn() -> None:
    line = charts.line_chart("one", "one point", ["2026-01"], [("rate", [0.5])])
    assert 'class="mark point"' in line and "no data yet" not in line
    zeros = charts.bar_chart("zeros", "zeros", ["a", "b"], [("n", [0, 0])])
    assert zeros.count('class="mark bar"') == 2
    gap = charts.line_chart("gap", "gaps", ["a", "b", "c"], [("r", [None, 0.2, None])])
    assert gap.count('class="mark point"') == 1


def test_low_confidence_is_a_visible_badge(doc: dict[str, Any]) -> None:
    model = doc["predictions"]["model"]
    low = render_html({**single("predictions", doc), "predictions": {**doc["predictions"], "model": model}})
    assert model["confidence"] == "low" and 'data-confidence="low"' in low and "low confidence" in low
    normal = {**doc["predictions"], "model": {**model, "confidence": "normal"}}
    assert 'data-confidence="normal"' in render_html({"predictions": normal})


def test_the_page_references_nothing_outside_itself(doc: dict[str, Any]) -> None:
    page = render_html(doc)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert re.findall(r'href="([^"]*)"', page) == [f"#{key}" for key in SECTIONS]


def test_money_is_in_the_shops_currency(doc: dict[str, Any]) -> None:
    page = render_html(single("rfm", doc))
    assert "¥" in page
    usd = render_html({"currency": "USD", "clv": {"historic": {"customers": 1, "average_minor": 4980}}})
    assert "$49.80" in usd
