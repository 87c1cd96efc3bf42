"""A shop's retention measures, month by month, from its customers' order history.

Every figure is a function of the shop's `CustomerRecord`s (the buyers index), exact to the order;
months are UTC months, as the profile keeps them. Definitions, for a month M (docs/reports.md has
them with examples):

- **active customers**: ordered in M. **new customers**: their first order is in M.
  **returning customers**: active minus new (their first order was before M).
- **customers at a month's end**: ordered in the `window_months` months ending with it (with the
  default window of 1: active in that month). **customers at the start** of M are the customers
  at the end of M-1; **customers at the end** of M those at the end of M.
- **retention rate** = retained / customers at the start, where retained are the customers at the
  start still customers at the end. It is the textbook (customers at the end - new) / customers at
  the start, except that customers who come back after more than the window (so were not
  customers at the start) are not counted as retained: the textbook formula would count them and
  could pass 100 %. **churn rate** = 1 - retention rate. Both are None when nobody was a customer
  at the start.
- **reactivated customers**: returning customers of M with no order in the `lapse_months` months
  before M.
- **orders**, **revenue** (net of refunds, which count in the month they happen), **average
  order value** = revenue / orders, **purchase frequency** = orders / active customers, and the
  revenue of new and of returning customers.
- **repeat-purchase rate**: of the customers whose first order is in M or before, the share with
  two orders or more by the end of M.
- **historic CLV** (as of the range's last month): each customer's net spend to date; its
  average, percentiles and a histogram.

Money is in the shop's main currency (`records.shop_currency`, or the one asked for): orders are
counted in every currency, spend only in that one. The profile keeps the last 60 months of history
(`profile.MAX_MONTHS`): a month older than a customer's kept history reads as no order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from comeback.domain.insight.records import (
    CustomerRecord,
    Month,
    month_number,
    month_of,
    ratio,
    shop_currency,
)

PERCENTILES = (10, 25, 50, 75, 90, 99)
CLV_BINS = 10


@dataclass(frozen=True)
class PeriodMeasures:
    """The measures of one month (see the module docstring for each definition)."""

    period: Month
    active_customers: int
    new_customers: int
    returning_customers: int
    customers_at_start: int
    customers_at_end: int
    retained_customers: int
    retention_rate: float | None
    churn_rate: float | None
    reactivated_customers: int
    orders: int
    revenue_minor: int
    revenue_new_minor: int
    revenue_returning_minor: int
    average_order_value_minor: int | None
    purchase_frequency: float | None
    customers_to_date: int
    repeat_customers_to_date: int
    repeat_purchase_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ClvBin:
    """Customers whose spend to date is in [lower_minor, upper_minor); the last bin has no upper."""

    lower_minor: int
    upper_minor: int | None
    customers: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoricClv:
    """What customers have spent to date (net of refunds), as of the end of `until`."""

    until: Month
    customers: int
    average_minor: int | None
    total_minor: int
    percentiles_minor: dict[str, int]  # "p10" ... "p99", nearest rank
    bins: tuple[ClvBin, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "bins": [b.to_dict() for b in self.bins]}


@dataclass(frozen=True)
class RetentionReport:
    shop_id: str
    currency: str | None
    period: str  # "month": the profile keeps its history by month
    since: Month
    until: Month
    window_months: int
    lapse_months: int
    periods: tuple[PeriodMeasures, ...]
    clv: HistoricClv

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "currency": self.currency,
            "period": self.period,
            "since": self.since,
            "until": self.until,
            "window_months": self.window_months,
            "lapse_months": self.lapse_months,
            "periods": [p.to_dict() for p in self.periods],
            "clv": self.clv.to_dict(),
        }


class _Tally:
    """Per-month counters, by month number."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[int, int]] = {}

    def add(self, name: str, month: int, amount: int = 1) -> None:
        row = self.counts.setdefault(name, {})
        row[month] = row.get(month, 0) + amount

    def get(self, name: str, month: int) -> int:
        return self.counts.get(name, {}).get(month, 0)


def retention_report(
    records: Iterable[CustomerRecord],
    *,
    shop_id: str = "",
    since: Month | None = None,
    until: Month | None = None,
    currency: str | None = None,
    window_months: int = 1,
    lapse_months: int = 3,
) -> RetentionReport:
    """The shop's measures for every month from `since` to `until` (default: its first order's
    month to its latest order's), and the historic CLV at `until`."""
    if window_months < 1 or lapse_months < 1:
        raise ValueError("window_months and lapse_months are at least 1")
    shop = list(records)
    currency = currency or shop_currency(shop)
    first = min((r.first_month for r in shop if r.first_month), default=None)
    latest = max((m for r in shop for m in r.order_months), default=first)
    since = since or first or "1970-01"
    until = until or latest or since
    start, end = month_number(since), month_number(until)
    if end < start:
        raise ValueError(f"until {until} is before since {since}")
    tally = _Tally()
    for r in shop:
        _count(r, tally, currency, start, end, window_months, lapse_months)
    _running(tally, "to_date", start, end)
    _running(tally, "repeat", start, end)
    periods = tuple(_period(tally, m) for m in range(start, end + 1))
    return RetentionReport(
        shop_id=shop_id,
        currency=currency,
        period="month",
        since=since,
        until=until,
        window_months=window_months,
        lapse_months=lapse_months,
        periods=periods,
        clv=historic_clv(shop, currency, until),
    )


def _count(
    r: CustomerRecord, tally: _Tally, currency: str | None, start: int, end: int, window: int, lapse: int
) -> None:
    """Add one customer to the month counters (each customer is read once: O(its months))."""
    if r.first_month is None:
        return
    first = month_number(r.first_month)
    ordered = {month_number(m): n for m, n in r.order_months.items() if n > 0}
    customer_months = {m + k for m in ordered for k in range(window)}
    for c in customer_months:
        # a customer at the end of c: counted at the end of c and at the start of c + 1
        if start <= c <= end:
            tally.add("at_end", c)
        if start <= c + 1 <= end:
            tally.add("at_start", c + 1)
            tally.add("retained", c + 1, int(c + 1 in customer_months))
    for m, n in ordered.items():
        if not start <= m <= end:
            continue
        tally.add("active", m)
        tally.add("orders", m, n)
        if m == first:
            tally.add("new", m)
        elif m > first and not any((m - k) in ordered for k in range(1, lapse + 1)):
            tally.add("reactivated", m)
    if currency:
        for key, minor in r.spent_months.items():
            month, _, cur = key.partition("|")
            m = month_number(month)
            if cur == currency and start <= m <= end:
                tally.add("revenue", m, minor)
                tally.add("revenue_new" if m == first else "revenue_returning", m, minor)
    # to date: counted from the first order's month; a repeat customer from the second order's
    before = r.orders - sum(n for m, n in ordered.items() if m >= start)  # orders before `start`
    second = start - 1 if before >= 2 else None
    running = before
    for m in sorted(ordered):
        if m >= start and second is None:
            running += ordered[m]
            if running >= 2:
                second = m
    # counted from these months on (`_running` adds them up month by month)
    tally.add("to_date", max(first, start))
    if second is not None:
        tally.add("repeat", max(second, start))


def _running(tally: _Tally, name: str, start: int, end: int) -> None:
    """Turn a counter of the months things begin into how many have begun by each month."""
    row = tally.counts.get(name, {})
    total = 0
    for m in range(start, end + 1):
        total += row.get(m, 0)
        row[m] = total
    tally.counts[name] = row


def _period(t: _Tally, m: int) -> PeriodMeasures:
    active, new, orders, revenue = (
        t.get("active", m),
        t.get("new", m),
        t.get("orders", m),
        t.get("revenue", m),
    )
    at_start, retained = t.get("at_start", m), t.get("retained", m)
    retention = ratio(retained, at_start)
    return PeriodMeasures(
        period=month_of(m),
        active_customers=active,
        new_customers=new,
        returning_customers=active - new,
        customers_at_start=at_start,
        customers_at_end=t.get("at_end", m),
        retained_customers=retained,
        retention_rate=retention,
        churn_rate=None if retention is None else 1 - retention,
        reactivated_customers=t.get("reactivated", m),
        orders=orders,
        revenue_minor=revenue,
        revenue_new_minor=t.get("revenue_new", m),
        revenue_returning_minor=t.get("revenue_returning", m),
        average_order_value_minor=round(revenue / orders) if orders else None,
        purchase_frequency=ratio(orders, active),
        customers_to_date=t.get("to_date", m),
        repeat_customers_to_date=t.get("repeat", m),
        repeat_purchase_rate=ratio(t.get("repeat", m), t.get("to_date", m)),
    )


def spend_to_date(r: CustomerRecord, currency: str, until: Month) -> int:
    """Net spend by the end of `until`: the lifetime spend less what the kept months after it add."""
    later = sum(
        minor for key, minor in r.spent_months.items() if key.endswith(f"|{currency}") and key[:7] > until
    )
    return max(0, r.spent.get(currency, 0) - later)


def historic_clv(records: Iterable[CustomerRecord], currency: str | None, until: Month) -> HistoricClv:
    """Each customer's spend to date in `currency` (customers who never spent in it are left out)."""
    values = sorted(
        spend_to_date(r, currency, until)
        for r in records
        if currency and currency in r.spent and r.first_month and r.first_month <= until
    )
    n = len(values)
    total = sum(values)
    return HistoricClv(
        until=until,
        customers=n,
        average_minor=round(total / n) if n else None,
        total_minor=total,
        percentiles_minor={f"p{p}": nearest_rank(values, p) for p in PERCENTILES} if n else {},
        bins=histogram(values),
    )


def nearest_rank(ordered: list[int], percent: int) -> int:
    """The value at `percent` % of an ascending list (nearest rank: an observed value)."""
    return ordered[max(0, math.ceil(len(ordered) * percent / 100) - 1)]


def nice_width(span: int, bins: int) -> int:
    """A bin width of 1, 2 or 5 times a power of ten that covers `span` in `bins` bins."""
    raw = max(1, math.ceil(span / bins))
    power = 10 ** (len(str(raw)) - 1)
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


def histogram(ordered: list[int], bins: int = CLV_BINS) -> tuple[ClvBin, ...]:
    """Equal bins from 0 up to the 99th percentile; the last one takes everyone above (the few
    biggest spenders would otherwise squeeze everyone else into the first bin)."""
    if not ordered:
        return ()
    width = nice_width(nearest_rank(ordered, 99), bins - 1)
    counts = [0] * bins
    for value in ordered:
        counts[min(bins - 1, value // width)] += 1
    return tuple(ClvBin(i * width, (i + 1) * width if i < bins - 1 else None, counts[i]) for i in range(bins))
