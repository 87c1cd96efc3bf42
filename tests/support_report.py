"""A realistic `comeback report all` document, built by the real domain builders from a simulated shop.

Orders come from `bench.buyer_sim` (BG/NBD with Gamma-Gamma-like order values) over a year; the
retention, cohort and RFM reports are built from the customers' records, the predictions fitted
on the same buyers, the backtest fitted on the first nine months and compared week by week with
the last three, and a win-back campaign's report built from message records drawn for the lapsed.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from bench import buyer_sim
from comeback.domain import predictions, segments
from comeback.domain.campaign_report import MessageRecord, Order, Records, build_report
from comeback.domain.clock import isoformat
from comeback.domain.insight.cohorts import cohort_report
from comeback.domain.insight.measures import histogram, nearest_rank, retention_report
from comeback.domain.insight.records import CustomerRecord
from comeback.domain.insight.rfm import rfm_report

SHOP = "demo"
CURRENCY = "JPY"
START = datetime(2025, 4, 1, tzinfo=UTC)
NOW = START + timedelta(days=365)
CUSTOMERS = 400


def simulated_orders(customers: int = CUSTOMERS, seed: int = 7) -> list[tuple[list[datetime], list[int]]]:
    """Each customer's order times and amounts (JPY)."""
    rng = np.random.default_rng(seed)
    times = buyer_sim.shop_orders(rng, customers, START, 365, r=0.3, alpha=25.0, a=0.8, b=2.5)
    shop = []
    for orders in times:
        typical = float(rng.gamma(6.0, 800.0))
        shop.append((orders, [max(300, round(float(rng.normal(typical, typical / 4)))) for _ in orders]))
    return shop


def record_of(contact: str, orders: list[datetime], amounts: list[int]) -> CustomerRecord:
    months: Counter[str] = Counter()
    spent: Counter[str] = Counter()
    for at, minor in zip(orders, amounts, strict=True):
        month = at.strftime("%Y-%m")
        months[month] += 1
        spent[f"{month}|{CURRENCY}"] += minor
    return CustomerRecord(
        contact_id=contact,
        orders=len(orders),
        spent={CURRENCY: sum(amounts)},
        first_order_at=isoformat(min(orders)),
        last_order_at=isoformat(max(orders)),
        order_months=dict(months),
        spent_months=dict(spent),
        first_code="WELCOME10" if contact.endswith("3") else None,
        first_channel="web",
        origin_known=True,
    )


def _weekly_backtest(shop: list[tuple[list[datetime], list[int]]]) -> dict[str, Any]:
    calibration_end, weeks = START + timedelta(weeks=39), 13
    holdout_end = calibration_end + timedelta(weeks=weeks)
    histories = [orders for orders, _ in shop]
    result = predictions.backtest(histories, calibration_end, holdout_end)
    assert result.model is not None
    m = result.model
    known = [sorted(o) for o in histories if min(o) <= calibration_end]
    x = [sum(1 for t in o if t <= calibration_end) - 1 for o in known]
    t_x = [(max(t for t in o if t <= calibration_end) - o[0]).total_seconds() / 86_400 for o in known]
    age = [(calibration_end - o[0]).total_seconds() / 86_400 for o in known]
    cumulative = [0.0] + [
        float(np.sum(predictions.expected_purchases(m.r, m.alpha, m.a, m.b, 7.0 * k, x, t_x, age)))
        for k in range(1, weeks + 1)
    ]
    rows = []
    for k in range(weeks):
        start = calibration_end + timedelta(weeks=k)
        actual = sum(1 for o in known for t in o if start < t <= start + timedelta(weeks=1))
        rows.append(
            {
                "week_start": start.date().isoformat(),
                "predicted": cumulative[k + 1] - cumulative[k],
                "actual": actual,
            }
        )
    return {
        "calibration_end": isoformat(calibration_end),
        "holdout_end": isoformat(holdout_end),
        "customers": result.customers,
        "predicted_total": result.predicted,
        "actual_total": result.actual,
        "aggregate_error": result.aggregate_error,
        "mae": result.per_customer_mae,
        "weeks": rows,
    }


def _predictions(
    records: list[CustomerRecord], shop: list[tuple[list[datetime], list[int]]]
) -> tuple[dict, dict]:
    buyers = [
        b
        for r in records
        if (b := segments.buyer(r.orders, r.spent, r.last_order_at, False, r.first_order_at)) is not None
    ]
    model = predictions.fit_buyers(buyers, NOW, CURRENCY)
    assert model is not None, "the simulated shop has enough repeat buyers to fit"
    h = predictions.histories_of(buyers, NOW)
    alive = predictions.p_alive(model.r, model.alpha, model.a, model.b, h.x, h.t_x, h.T)
    edges = [i / 10 for i in range(11)]
    p_alive_bins = [
        {
            "lower": edges[i],
            "upper": edges[i + 1],
            "customers": int(np.sum((alive >= edges[i]) & ((alive < edges[i + 1]) | (i == 9)))),
        }
        for i in range(10)
    ]
    year = predictions.expected_purchases(model.r, model.alpha, model.a, model.b, 365.0, h.x, h.t_x, h.T)
    mean_value = h.spend_minor / (h.x + 1)
    clv = sorted(round(v) for v in year * mean_value)
    predicted_clv = {
        "customers": len(clv),
        "average_minor": round(sum(clv) / len(clv)),
        "percentiles_minor": {f"p{p}": nearest_rank(clv, p) for p in (10, 25, 50, 75, 90, 99)},
        "bins": [b.to_dict() for b in histogram(clv)],
    }
    section = {
        "model": model.model_dump(mode="json"),
        "reason": None,
        "p_alive_bins": p_alive_bins,
        "backtest": _weekly_backtest(shop),
    }
    return section, predicted_clv


def _campaign(records: list[CustomerRecord], shop: list[tuple[list[datetime], list[int]]]) -> dict[str, Any]:
    """Win-back: two steps to customers 60+ days away, one in five held out; those emailed come back
    a little more often, so the lift is positive with a wide interval."""
    rng = random.Random(5)
    sent_at = NOW - timedelta(days=60)
    messages: list[MessageRecord] = []
    orders: list[Order] = []
    for r, (times, amounts) in zip(records, shop, strict=True):
        orders += [Order(SHOP, r.contact_id, t, a, CURRENCY) for t, a in zip(times, amounts, strict=True)]
        if max(times) > sent_at - timedelta(days=60):
            continue
        held = rng.random() < 0.2
        for step in (1, 2):
            at = sent_at + timedelta(days=7 * (step - 1))
            messages.append(
                MessageRecord(
                    shop_id=SHOP, contact_id=r.contact_id, campaign="winback", step=step,
                    period=sent_at.date().isoformat(), status="skipped" if held else "sent",
                    reason="holdout" if held else None, requested_at=at,
                    sent_at=None if held else at, delivered_at=None if held else at,
                    opened_at=at if not held and rng.random() < 0.4 else None,
                    clicked_at=at if not held and rng.random() < 0.1 else None,
                )
            )  # fmt: skip
        if rng.random() < (0.08 if held else 0.2):
            orders.append(Order(SHOP, r.contact_id, sent_at + timedelta(days=10), 4200, CURRENCY))
    report = build_report(
        Records(tuple(messages), tuple(orders)), campaign="winback", shop_id=SHOP, as_of=NOW
    )
    return report.to_dict()


def _calendar() -> dict[str, Any]:
    first = NOW.date()
    days = []
    for k in range(14):
        day = first + timedelta(days=k)
        days.append(
            {
                "day": day.isoformat(),
                "due": {"winback": (k * 7) % 5 + 1, "birthday": k % 3, "survey": (k + 1) % 4},
                "held": {"winback": k % 2},
            }
        )
    return {"from": first.isoformat(), "days": 14, "by_day": days}


def document(customers: int = CUSTOMERS) -> dict[str, Any]:
    """The `all` report's JSON for the simulated shop."""
    shop = simulated_orders(customers)
    records = [record_of(f"c{i:04d}", orders, amounts) for i, (orders, amounts) in enumerate(shop)]
    retention = retention_report(records, shop_id=SHOP)
    predictions_section, predicted_clv = _predictions(records, shop)
    return {
        "shop_id": SHOP,
        "generated_at": isoformat(NOW),
        "currency": CURRENCY,
        "retention": retention.to_dict(),
        "cohorts": cohort_report(records, shop_id=SHOP).to_dict(),
        "rfm": rfm_report(records, NOW, shop_id=SHOP).to_dict(),
        "clv": {"currency": CURRENCY, "historic": retention.clv.to_dict(), "predicted": predicted_clv},
        "predictions": predictions_section,
        "recipes": {"campaigns": [_campaign(records, shop)]},
        "calendar": _calendar(),
    }


def single(section: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A document holding one section, as `comeback report NAME --format html` gives."""
    keep = {"shop_id", "generated_at", "currency", section}
    return {k: v for k, v in doc.items() if k in keep}
