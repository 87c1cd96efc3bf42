"""The predictions section: the model in the open, buyers scored now, the weekly backtest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from comeback.domain import predictions
from comeback.domain.clock import isoformat
from comeback.domain.insight.forecast import forecast_report, weekly_backtest
from comeback.domain.insight.records import CustomerRecord
from comeback.domain.insight.rfm import buyer_of_record
from comeback.domain.segments import Buyer

START = datetime(2025, 1, 1, tzinfo=UTC)


def simulated_histories(customers: int, days: float, seed: int = 4) -> list[list[datetime]]:
    """Buyers of a BG/NBD world: Poisson orders at a gamma-distributed rate, dropping out after each."""
    rng = np.random.default_rng(seed)
    histories = []
    for _ in range(customers):
        first = START + timedelta(days=float(rng.uniform(0, days / 3)))
        rate = rng.gamma(0.8, 1 / 25)  # orders per day
        p_drop = rng.beta(0.8, 4.0)
        times, t = [first], first
        while True:
            t = t + timedelta(days=float(rng.exponential(1 / rate)))
            if (t - START).days >= days:
                break
            times.append(t)
            if rng.random() < p_drop:
                break
        histories.append(times)
    return histories


def record(i: int, times: list[datetime]) -> CustomerRecord:
    return CustomerRecord(
        contact_id=f"c{i}",
        orders=len(times),
        spent={"JPY": 3000 * len(times) + 100 * i % 700},
        first_order_at=isoformat(min(times)),
        last_order_at=isoformat(max(times)),
    )


def test_the_weekly_backtest_adds_up_to_the_backtest_and_follows_the_orders() -> None:
    histories = simulated_histories(3000, 540)
    cut, end = START + timedelta(days=360), START + timedelta(days=540)
    weekly = weekly_backtest(histories, cut, end)
    plain = predictions.backtest(histories, cut, end)
    assert weekly.model is not None and weekly.customers == plain.customers
    assert abs(sum(p for _, p, _ in weekly.weeks) - plain.predicted) < 1e-6 * max(1.0, plain.predicted)
    assert sum(a for _, _, a in weekly.weeks) == plain.actual
    assert len(weekly.weeks) == 26  # 180 days, the last week shorter
    assert weekly.aggregate_error is not None and weekly.aggregate_error < 0.15
    doc = weekly.to_dict()
    assert doc["weeks"][0]["week_start"] == cut.date().isoformat()


def test_a_shop_without_a_qualifying_model_says_why_and_scores_nobody() -> None:
    records = [record(i, h) for i, h in enumerate(simulated_histories(40, 200))]
    report = forecast_report(records, None, START + timedelta(days=200), shop_id="s", currency="JPY")
    assert report.reason and "20 customers" in report.reason
    assert report.p_alive is None and report.predicted_clv is None
    assert report.to_dict()["p_alive_bins"] == []


def test_buyers_are_scored_with_one_time_buyers_shown_apart() -> None:
    now = START + timedelta(days=540)
    histories = simulated_histories(2500, 540)
    records = [record(i, h) for i, h in enumerate(histories)]
    model = predictions.fit(predictions.histories_of(_buyers(records), now), now, "JPY")
    assert model is not None and model.qualifies
    report = forecast_report(records, model, now, shop_id="s", currency="JPY")
    assert report.reason is None
    assert report.p_alive is not None and report.p_alive_one_time is not None
    assert report.p_alive.customers + report.p_alive_one_time.customers == len(records)
    assert report.one_time_buyers == report.p_alive_one_time.customers
    assert sum(b["customers"] for b in report.p_alive.bins) == report.p_alive.customers
    assert report.predicted_clv is not None and report.predicted_clv.customers == len(records)
    doc = report.to_dict()
    assert doc["model"]["r"] == model.r and doc["confidence"] == model.confidence
    assert doc["predicted_clv"]["average_minor"] > 0


def _buyers(records: list[CustomerRecord]) -> list[Buyer]:
    return [b for r in records if (b := buyer_of_record(r)) is not None]
