"""`comeback report retention|...|all` on moto: the shop's events through the contacts function,
then the report command reading the table as it would a deployed stack's."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from comeback.cli.errors import CliError
from comeback.cli.report import insight_command
from tests.integration.test_contacts import apply_events
from tests.support import order

AS_OF = datetime(2026, 4, 15, tzinfo=UTC)


def placed(cid: str, n: int, at: str, total: int) -> dict[str, Any]:
    return order(f"{cid}-o{n}", at, {"id": cid}, total=str(total))


# January: aoi, ren, sora are new; February: aoi and sora come back (retention 2/3), mio is new
SHOP = [
    placed("aoi", 1, "2026-01-10T00:00:00Z", 1000),
    placed("ren", 1, "2026-01-12T00:00:00Z", 3000),
    placed("sora", 1, "2026-01-20T00:00:00Z", 2000),
    placed("aoi", 2, "2026-02-03T00:00:00Z", 1500),
    placed("sora", 2, "2026-02-10T00:00:00Z", 500),
    placed("mio", 1, "2026-02-11T00:00:00Z", 4000),
]


def run(report: str, fmt: str = "json", **options: Any) -> str:
    args = argparse.Namespace(
        report=report, shop=options.pop("shop", "demo"), format=fmt, lang=options.pop("lang", "en"),
        by=options.pop("by", "month"), backtest=options.pop("backtest", False), holdout_days=None,
        days=options.pop("days", 14),
    )  # fmt: skip
    out = io.StringIO()
    engine = options.pop("engine")
    assert insight_command(args, engine.settings, None, AS_OF, out) == 0
    return out.getvalue()


def test_every_section_of_all_comes_from_the_table(engine: Any) -> None:
    apply_events(engine, *SHOP)
    doc = json.loads(run("all", engine=engine))
    assert doc["shop_id"] == "demo" and doc["currency"] == "JPY"
    months = {p["period"]: p for p in doc["retention"]["periods"]}
    assert months["2026-01"]["new_customers"] == 3 and months["2026-02"]["new_customers"] == 1
    assert months["2026-02"]["retention_rate"] == pytest.approx(2 / 3)
    february = months["2026-02"]
    assert (february["revenue_new_minor"], february["revenue_returning_minor"]) == (4000, 2000)
    january = next(c for c in doc["cohorts"]["cohorts"] if c["group"] == "2026-01")
    assert january["customers"] == 3 and january["cells"][1]["active"] == 2
    assert sum(s["customers"] for s in doc["rfm"]["segments"]) == 4
    assert doc["clv"]["historic"]["customers"] == 4 and doc["clv"]["historic"]["total_minor"] == 12000
    # four buyers are far from a model: the report says why instead of inventing figures
    assert doc["predictions"]["model"] is None and "20 customers" in doc["predictions"]["reason"]
    assert doc["clv"]["predicted"] is None
    assert doc["recipes"] == {"campaigns": []} or all("rows" in c for c in doc["recipes"]["campaigns"])
    assert len(doc["calendar"]["by_day"]) == 14 and doc["calendar"]["timezone"]


def test_one_report_reads_only_its_section_and_prints_a_table(engine: Any) -> None:
    apply_events(engine, *SHOP)
    doc = json.loads(run("cohorts", engine=engine))
    assert set(doc) == {"shop_id", "shop_name", "generated_at", "currency", "since", "cohorts"}
    text = run("retention", "table", engine=engine)
    assert "retention by month" in text and "2026-02" in text and "66.7%" in text
    text = run("calendar", "table", engine=engine, days=7)
    assert "calendar: the next 7 days" in text


def test_an_unknown_shop_is_one_clear_error(engine: Any) -> None:
    with pytest.raises(CliError, match="no shop 'nope' in the table"):
        run("rfm", engine=engine, shop="nope")


def test_a_backtest_without_orders_is_one_clear_error(engine: Any) -> None:
    with pytest.raises(CliError, match="has no orders"):
        run("predictions", engine=engine, backtest=True)
