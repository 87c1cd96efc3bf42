"""Cohorts: customers grouped by their first order, followed month by month since.

By default a cohort is the month of the first order (the classic triangle: a cohort of March has
as many cells as months have passed since March). Grouped by the first order's discount code or
its channel instead, a group's customers started in different months, so cell k counts only the
customers whose first order is at least k months before the report's last month (`eligible`);
each cell's share and revenue are of those.

Cell k of a customer whose first order is in month F is month F + k (k = 0 is the first order's
month): `active` customers ordered in it, `share` = active / eligible, `revenue_per_customer` =
their net spend that month (refunds count in their month) / eligible, in the shop's currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from comeback.domain.insight.records import CustomerRecord, Month, month_number, ratio, shop_currency

CohortKind = Literal["month", "code", "channel"]
NO_CODE = "(no code)"  # the first order had no discount code
NO_CHANNEL = "(no channel)"  # the first order named no channel
UNKNOWN = "(unknown)"  # the first order came before the profile recorded codes and channels


@dataclass(frozen=True)
class CohortCell:
    months_since: int
    eligible: int
    active: int
    share: float | None
    revenue_minor: int
    revenue_per_customer_minor: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "months_since": self.months_since,
            "eligible": self.eligible,
            "active": self.active,
            "share": self.share,
            "revenue_minor": self.revenue_minor,
            "revenue_per_customer_minor": self.revenue_per_customer_minor,
        }


@dataclass(frozen=True)
class Cohort:
    group: str  # "YYYY-MM", a discount code, a channel, or one of NO_CODE, NO_CHANNEL, UNKNOWN
    customers: int
    cells: tuple[CohortCell, ...]  # months since 0, 1, ... up to the report's last month

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "customers": self.customers, "cells": [c.to_dict() for c in self.cells]}


@dataclass(frozen=True)
class CohortReport:
    shop_id: str
    by: CohortKind
    currency: str | None
    since: Month  # cohorts of first orders from this month
    until: Month  # to this one, followed up to it
    cohorts: tuple[Cohort, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "by": self.by,
            "currency": self.currency,
            "since": self.since,
            "until": self.until,
            "cohorts": [c.to_dict() for c in self.cohorts],
        }


def group_of(r: CustomerRecord, by: CohortKind) -> str:
    assert r.first_month is not None
    if by == "month":
        return r.first_month
    if not r.origin_known:
        return UNKNOWN
    if by == "code":
        return r.first_code or NO_CODE
    return r.first_channel or NO_CHANNEL


def cohort_report(
    records: Iterable[CustomerRecord],
    *,
    shop_id: str = "",
    by: CohortKind = "month",
    since: Month | None = None,
    until: Month | None = None,
    currency: str | None = None,
) -> CohortReport:
    shop = [r for r in records if r.first_month]
    currency = currency or shop_currency(shop)
    first = min((r.first_month for r in shop if r.first_month), default="1970-01")
    latest = max((m for r in shop for m in r.order_months), default=first)
    since, until = since or first, until or latest
    end = month_number(until)
    # group -> months since -> [eligible, active, revenue]
    table: dict[str, dict[int, list[int]]] = {}
    sizes: dict[str, int] = {}
    for r in shop:
        assert r.first_month is not None
        if not since <= r.first_month <= until:
            continue
        group = group_of(r, by)
        sizes[group] = sizes.get(group, 0) + 1
        row = table.setdefault(group, {})
        start = month_number(r.first_month)
        for k in range(end - start + 1):
            cell = row.setdefault(k, [0, 0, 0])
            cell[0] += 1
        for month, n in r.order_months.items():
            k = month_number(month) - start
            if n > 0 and 0 <= k <= end - start:
                row[k][1] += 1
        if currency:
            for key, minor in r.spent_months.items():
                month, _, cur = key.partition("|")
                k = month_number(month) - start
                if cur == currency and 0 <= k <= end - start:
                    row[k][2] += minor
    cohorts = tuple(
        Cohort(group, sizes[group], tuple(_cell(k, *table[group][k]) for k in sorted(table[group])))
        for group in (sorted(table) if by == "month" else sorted(table, key=lambda g: (-sizes[g], g)))
    )
    return CohortReport(shop_id, by, currency, since, until, cohorts)


def _cell(k: int, eligible: int, active: int, revenue: int) -> CohortCell:
    return CohortCell(k, eligible, active, ratio(active, eligible), revenue, ratio(revenue, eligible))
