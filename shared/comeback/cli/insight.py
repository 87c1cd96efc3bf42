"""What `comeback report retention|cohorts|rfm|clv|predictions|recipes|calendar|all` reads, and the
one JSON document every format is drawn from.

Each section is a pure builder of `comeback.domain.insight` over what the stores return: the shop's
buyers through the buyers index (retention, cohorts, RFM, CLV, predictions), the message records
and orders through one filtered Scan (recipes, the backtest's order dates), the due index
(calendar). The table, the JSON and the HTML are three renderings of the same document, so they
never disagree. Sections are read only when asked for: `report calendar` reads the due index alone.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from comeback.app.settings import Settings
from comeback.cli.errors import CliError

if TYPE_CHECKING:
    from comeback.domain.insight.cohorts import CohortKind

SECTIONS = ("retention", "cohorts", "rfm", "clv", "predictions", "recipes", "calendar")
# with --backtest and no --holdout-days: the forecast covers the last third of the history
BACKTEST_SHARE = 1 / 3


@dataclass
class Sources:
    """The stores of one target (the deployed stack, or the local runtime) and the report's time."""

    settings: Settings
    shop_id: str
    now: datetime
    since: date | None

    @cached_property
    def ddb(self) -> Any:
        from comeback.aws import clients as aws

        return aws.client("dynamodb", self.settings)

    @cached_property
    def playbook(self) -> Any:
        from comeback.aws.shops import ShopDirectory

        return ShopDirectory(self.settings).playbook(self.shop_id)

    @cached_property
    def customers(self) -> list[Any]:
        from comeback.aws.insight_store import DynamoInsightStore

        store = DynamoInsightStore(self.ddb, self.settings.table_name, self.settings.due_shards)
        return sorted(store.customers(self.shop_id), key=lambda r: r.contact_id)

    @cached_property
    def campaign_records(self) -> Any:
        from comeback.aws.report_store import DynamoCampaignRecords

        return DynamoCampaignRecords(self.ddb, self.settings.table_name).records(self.shop_id, None, None)

    @property
    def currency(self) -> str:
        return str(self.playbook.shop.currency)

    @property
    def since_month(self) -> str | None:
        return self.since.strftime("%Y-%m") if self.since else None

    def due_entries(self, until: datetime) -> tuple[list[Any], list[tuple[str, datetime]]]:
        """The shop's profiles and held messages on the due index up to `until`, every shard."""
        from comeback.aws import keys
        from comeback.aws.due_store import DynamoDueStore
        from comeback.domain.clock import parse_iso

        store = DynamoDueStore(self.ddb, self.settings.table_name)
        profiles: list[Any] = []
        held: list[tuple[str, datetime]] = []
        for shard in keys.all_due_shards(self.settings.due_shards):
            cursor: str | None = None
            while True:
                page = store.page(shard, until, cursor, 500)
                profiles.extend(c.profile for c in page.contacts if c.profile.shop_id == self.shop_id)
                held.extend(
                    (h.request.campaign, parse_iso(h.read[2]))
                    for h in page.held
                    if h.request.shop_id == self.shop_id
                )
                cursor = page.cursor
                if cursor is None:
                    break
        return profiles, held


def document(sources: Sources, sections: tuple[str, ...], args: argparse.Namespace) -> dict[str, Any]:
    """The report's JSON: `shop_id`, `generated_at`, `currency` and each section asked for."""
    doc: dict[str, Any] = {
        "shop_id": sources.shop_id,
        "shop_name": sources.playbook.shop.name,
        "generated_at": sources.now.isoformat(),
        "currency": sources.currency,
        "since": sources.since.isoformat() if sources.since else None,
    }
    for name in sections:
        doc[name] = BUILDERS[name](sources, args)
    return doc


def _retention(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.insight.measures import retention_report

    report = retention_report(
        s.customers, shop_id=s.shop_id, since=s.since_month, until=_month(s.now), currency=s.currency
    )
    return report.to_dict()


def _cohorts(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.insight.cohorts import cohort_report

    by = cast("CohortKind", getattr(args, "by", None) or "month")
    report = cohort_report(
        s.customers, shop_id=s.shop_id, by=by, since=s.since_month, until=_month(s.now), currency=s.currency
    )
    return report.to_dict()


def _rfm(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.insight.rfm import rfm_report

    cuts = s.playbook.segmentation
    return rfm_report(s.customers, s.now, shop_id=s.shop_id, cuts=cuts, currency=s.currency).to_dict()


def _forecast(s: Sources, args: argparse.Namespace) -> Any:
    from comeback.domain.insight.forecast import forecast_report

    cached = getattr(s, "_forecast_report", None)
    if cached is not None:
        return cached
    backtest = _backtest(s, args) if getattr(args, "backtest", False) else None
    report = forecast_report(
        s.customers, s.playbook.predictions, s.now, shop_id=s.shop_id, currency=s.currency, backtest=backtest
    )
    s._forecast_report = report  # type: ignore[attr-defined]  # clv and predictions share one scoring
    return report


def _backtest(s: Sources, args: argparse.Namespace) -> Any:
    """Fit on the history before the cut, forecast the rest (the orders' dates from the table)."""
    from comeback.domain.insight.forecast import weekly_backtest

    by_contact: dict[str, list[datetime]] = defaultdict(list)
    for order in s.campaign_records.orders:
        if order.shop_id == s.shop_id:
            by_contact[order.contact_id].append(order.occurred_at)
    if not by_contact:
        raise CliError(f"--backtest: shop {s.shop_id!r} has no orders in the table")
    first = min(min(v) for v in by_contact.values())
    end = min(s.now, max(max(v) for v in by_contact.values()) + timedelta(seconds=1))
    days = getattr(args, "holdout_days", None)
    holdout = timedelta(days=days) if days else (end - first) * BACKTEST_SHARE
    return weekly_backtest(list(by_contact.values()), end - holdout, end)


def _predictions(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    return dict(_forecast(s, args).to_dict())


def _clv(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.insight.measures import historic_clv

    forecast = _forecast(s, args)
    return {
        "currency": s.currency,
        "historic": historic_clv(s.customers, s.currency, _month(s.now)).to_dict(),
        "predicted": forecast.predicted_clv.to_dict("minor") if forecast.predicted_clv else None,
        "confidence": forecast.model.confidence if forecast.model and forecast.reason is None else None,
        "reason": forecast.reason,
    }


def _recipes(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.campaign_report import build_report

    records = s.campaign_records
    campaigns = sorted({m.campaign for m in records.messages if m.shop_id == s.shop_id})
    reports = [
        build_report(records, campaign=c, shop_id=s.shop_id, since=s.since, as_of=s.now).to_dict()
        for c in campaigns
    ]
    return {"campaigns": reports}


def _calendar(s: Sources, args: argparse.Namespace) -> dict[str, Any]:
    from comeback.domain.insight.calendar import calendar_report

    days = getattr(args, "days", None) or 14
    tz_name = str(s.playbook.shop.timezone)
    tz = ZoneInfo(tz_name)
    local_today = s.now.astimezone(tz).date()
    until = datetime.combine(local_today + timedelta(days=days), datetime.min.time(), tzinfo=tz)
    profiles, held = s.due_entries(until.astimezone(UTC))
    report = calendar_report(profiles, held, shop_id=s.shop_id, now=s.now, days=days, tz=tz, tz_name=tz_name)
    return report.to_dict()


def _month(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


BUILDERS = {
    "retention": _retention,
    "cohorts": _cohorts,
    "rfm": _rfm,
    "clv": _clv,
    "predictions": _predictions,
    "recipes": _recipes,
    "calendar": _calendar,
}
