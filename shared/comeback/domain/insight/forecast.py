"""The predictions section of the reports: the shop's fitted model in the open, each buyer scored
now (p_alive's distribution, the predicted 365-day CLV's), and the backtest week by week.

The per-contact figures are `comeback.domain.predictions.score`, the same function the contact
view uses, so the report and `comeback contacts show` never disagree. The backtest fits on the
history up to a cut and forecasts the rest: predicted repeat orders per week (the model's expected
count over each week, summed over the customers the calibration knew) against the orders that
came, and the error on the aggregate the issue sets targets for.

One-time buyers: BG/NBD cannot see them drop out before a first repeat, so their p_alive falls
slowly (the model's known weakness). The scores count the first order as a chance to drop out
(`p_alive_basis: one_time_buyer`), and the report shows them apart: their share of the buyers and
their p_alive distribution, so nobody reads a 0.9 from a one-time buyer as a loyal customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from comeback.domain import predictions
from comeback.domain.insight.measures import PERCENTILES, histogram, nearest_rank
from comeback.domain.insight.records import CustomerRecord
from comeback.domain.prediction_model import FittedModel
from comeback.domain.profile import Profile

ALIVE_BINS = 10
WEEK = timedelta(days=7)


def profile_of(shop_id: str, r: CustomerRecord) -> Profile:
    """The part of a profile the scores read, from a buyer's record."""
    return Profile(
        shop_id=shop_id,
        contact_id=r.contact_id,
        orders_count=r.orders,
        spent=dict(r.spent),
        first_order_at=r.first_order_at,
        last_order_at=r.last_order_at,
    )


@dataclass(frozen=True)
class Distribution:
    customers: int
    average: float | None
    percentiles: dict[str, float]
    bins: tuple[dict[str, Any], ...]

    def to_dict(self, unit: str = "") -> dict[str, Any]:
        suffix = f"_{unit}" if unit else ""
        return {
            "customers": self.customers,
            f"average{suffix}": self.average,
            f"percentiles{suffix}": dict(self.percentiles),
            "bins": list(self.bins),
        }


def _alive_bins(values: Sequence[float]) -> tuple[dict[str, Any], ...]:
    counts = [0] * ALIVE_BINS
    for value in values:
        counts[min(ALIVE_BINS - 1, int(value * ALIVE_BINS))] += 1
    return tuple(
        {"lower": round(i / ALIVE_BINS, 2), "upper": round((i + 1) / ALIVE_BINS, 2), "customers": counts[i]}
        for i in range(ALIVE_BINS)
    )


@dataclass(frozen=True)
class BacktestWeeks:
    calibration_end: datetime
    holdout_end: datetime
    customers: int
    predicted_total: float
    actual_total: int
    aggregate_error: float | None
    mae: float | None
    weeks: tuple[tuple[datetime, float, int], ...]  # week start, predicted, actual
    model: FittedModel | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "customers": self.customers,
            "predicted_total": round(self.predicted_total, 2),
            "actual_total": self.actual_total,
            "aggregate_error": None if self.aggregate_error is None else round(self.aggregate_error, 4),
            "mae": None if self.mae is None else round(self.mae, 4),
            "weeks": [
                {"week_start": start.date().isoformat(), "predicted": round(p, 2), "actual": a}
                for start, p, a in self.weeks
            ],
            "model": self.model.model_dump(mode="json") if self.model else None,
        }


def weekly_backtest(
    histories: Sequence[Sequence[datetime]], calibration_end: datetime, holdout_end: datetime
) -> BacktestWeeks:
    """`predictions.backtest` with the holdout cut into weeks (the chart of predicted vs actual)."""
    found = predictions.backtest(histories, calibration_end, holdout_end)
    weeks: list[tuple[datetime, float, int]] = []
    model = found.model
    known = [sorted(h) for h in histories if h and min(h) <= calibration_end]
    if model is not None and known:
        x = [sum(1 for t in h if t <= calibration_end) - 1 for h in known]
        first = [h[0] for h in known]
        t_x = [_days(max(t for t in h if t <= calibration_end), f) for h, f in zip(known, first, strict=True)]
        T = [_days(calibration_end, f) for f in first]
        params = (model.r, model.alpha, model.a, model.b)
        start, before = calibration_end, 0.0
        while start < holdout_end:
            end = min(start + WEEK, holdout_end)
            span = _days(end, calibration_end)
            upto = float(sum(predictions.expected_purchases(*params, span, x, t_x, T)))
            actual = sum(1 for h in known for t in h if start < t <= end)
            weeks.append((start, upto - before, actual))
            start, before = end, upto
    error = None if math.isnan(found.aggregate_error) else found.aggregate_error
    mae = None if math.isnan(found.per_customer_mae) else found.per_customer_mae
    return BacktestWeeks(
        calibration_end,
        holdout_end,
        found.customers,
        found.predicted,
        found.actual,
        error,
        mae,
        tuple(weeks),
        model,
    )


def _days(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / 86_400)


@dataclass(frozen=True)
class ForecastReport:
    shop_id: str
    at: datetime
    currency: str | None
    model: FittedModel | None
    reason: str | None  # why there is no usable model
    buyers: int
    one_time_buyers: int
    p_alive: Distribution | None
    p_alive_one_time: Distribution | None
    predicted_clv: Distribution | None  # minor units
    expected_orders_90d: float | None  # summed over the buyers
    backtest: BacktestWeeks | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "at": self.at.isoformat(),
            "currency": self.currency,
            "model": self.model.model_dump(mode="json") if self.model else None,
            "confidence": self.model.confidence if self.model else None,
            "reason": self.reason,
            "buyers": self.buyers,
            "one_time_buyers": self.one_time_buyers,
            "p_alive_bins": list(self.p_alive.bins) if self.p_alive else [],
            "p_alive": self.p_alive.to_dict() if self.p_alive else None,
            "p_alive_one_time": self.p_alive_one_time.to_dict() if self.p_alive_one_time else None,
            "expected_orders_90d": None
            if self.expected_orders_90d is None
            else round(self.expected_orders_90d, 1),
            "predicted_clv": self.predicted_clv.to_dict("minor") if self.predicted_clv else None,
            "backtest": self.backtest.to_dict() if self.backtest else None,
        }


def _reason(model: FittedModel | None) -> str | None:
    if model is None:
        return (
            "no model yet: the daily job fits one from 20 customers with a repeat order "
            "(predictions are shown from 200 with 90 days of history)"
        )
    if not model.qualifies:
        return (
            f"not enough history yet: {model.repeat_customers} customers with a repeat order over "
            f"{model.history_days:.0f} days (predictions start at 200 and 90 days)"
        )
    return None


def forecast_report(
    records: Iterable[CustomerRecord],
    model: FittedModel | None,
    now: datetime,
    *,
    shop_id: str,
    currency: str | None,
    backtest: BacktestWeeks | None = None,
) -> ForecastReport:
    buyers = list(records)
    one_time = sum(1 for r in buyers if r.orders == 1)
    reason = _reason(model)
    if reason is not None:
        return ForecastReport(
            shop_id, now, currency, model, reason, len(buyers), one_time, None, None, None, None, backtest
        )
    alive: list[float] = []
    alive_once: list[float] = []
    clv: list[int] = []
    ninety = 0.0
    for r in buyers:
        found = predictions.score(profile_of(shop_id, r), model, now, currency)
        if found is None:
            continue
        (alive_once if found.p_alive_basis == "one_time_buyer" else alive).append(found.p_alive)
        ninety += found.expected_orders_90d
        if found.predicted_clv_365d is not None:
            clv.append(found.predicted_clv_365d)
    return ForecastReport(
        shop_id=shop_id,
        at=now,
        currency=currency,
        model=model,
        reason=None,
        buyers=len(buyers),
        one_time_buyers=one_time,
        p_alive=_spread(alive, alive_bins=True),
        p_alive_one_time=_spread(alive_once, alive_bins=True),
        predicted_clv=_money_spread(clv) if clv else None,
        expected_orders_90d=ninety,
        backtest=backtest,
    )


def _spread(values: list[float], alive_bins: bool) -> Distribution | None:
    if not values:
        return None
    ordered = sorted(values)
    return Distribution(
        customers=len(ordered),
        average=round(sum(ordered) / len(ordered), 4),
        percentiles={f"p{p}": ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] for p in PERCENTILES},
        bins=_alive_bins(ordered) if alive_bins else (),
    )


def _money_spread(values: list[int]) -> Distribution:
    ordered = sorted(values)
    return Distribution(
        customers=len(ordered),
        average=round(sum(ordered) / len(ordered)),
        percentiles={f"p{p}": nearest_rank(ordered, p) for p in PERCENTILES},
        bins=tuple(b.to_dict() for b in histogram(ordered)),
    )
