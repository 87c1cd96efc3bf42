"""The prediction models at scale: fit and score 100,000 simulated customers (seconds, peak memory),
what numpy adds to the layer, and the backtest's error on simulated shops of 200, 500 and 2,000.

Customers are simulated with BG/NBD and Gamma-Gamma themselves (`bench.buyer_sim`), so the
backtest measures the fit and the forecast, not how well the model suits a real shop. The layer
figure is this environment's installed numpy (`site-packages/numpy` and `numpy.libs`), a proxy for
the aarch64 wheel the layer build unpacks (same version; the wheels differ in their compiled parts).

    python -m bench predictions
"""

from __future__ import annotations

import resource
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench import buyer_sim
from comeback.domain import predictions
from comeback.domain.predictions import Histories

CUSTOMERS = 100_000
BACKTEST_SIZES = (200, 500, 2_000)
SEEDS = 10  # shops per size: a small shop's error is mostly its own luck
TRUE = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.25, "q": 3.74, "v": 1534.0}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _fit_and_score() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    ages = rng.uniform(0, 730, CUSTOMERS)
    x, t_x = buyer_sim.histories(rng, ages, **TRUE)
    spend = buyer_sim.order_values(rng, x + 1, **SPEND) * (x + 1)
    history = Histories(x, t_x, ages, spend, 730.0)
    tracemalloc.start()
    began = time.perf_counter()
    model = predictions.fit(history, NOW, "JPY")
    fitted = time.perf_counter()
    assert model is not None and model.p is not None and model.q is not None and model.v is not None
    params = (model.r, model.alpha, model.a, model.b)
    alive = predictions.p_alive(*params, x, t_x, ages)
    ninety = predictions.expected_purchases(*params, 90.0, x, t_x, ages)
    year = predictions.expected_purchases(*params, 365.0, x, t_x, ages)
    clv = year * predictions.conditional_order_value(model.p, model.q, model.v, x + 1, spend / (x + 1))
    scored = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "customers": CUSTOMERS,
        "repeat_customers": model.repeat_customers,
        "fit_s": round(fitted - began, 2),
        "score_s": round(scored - fitted, 2),
        "fit_and_score_s": round(scored - began, 2),
        "peak_traced_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "fitted": {k: round(getattr(model, k), 3) for k in ("r", "alpha", "a", "b", "p", "q", "v")},
        "true": {**TRUE, **SPEND},
        "histogram_mae_share": round(model.quality.histogram_mae_share, 5),
        "mean_p_alive": round(float(alive.mean()), 3),
        "mean_expected_orders_90d": round(float(ninety.mean()), 3),
        "mean_clv_365d_minor": round(float(clv.mean())),
    }


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def _numpy_size() -> dict[str, Any]:
    site = Path(np.__file__).resolve().parents[1]
    numpy_bytes = _size(site / "numpy") + _size(site / "numpy.libs")
    tests = sum(_size(p) for p in (site / "numpy").rglob("tests") if p.is_dir())
    return {
        "numpy": np.__version__,
        "installed_mb": round(numpy_bytes / 2**20, 1),
        "of_which_tests_mb": round(tests / 2**20, 1),
        "measured": "this environment's site-packages/numpy + numpy.libs (proxy for the aarch64 wheel)",
    }


def _backtests() -> dict[str, Any]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    cut, end = start + timedelta(days=365), start + timedelta(days=730)
    found: dict[str, Any] = {}
    for size in BACKTEST_SIZES:
        errors, maes, seconds = [], [], []
        for seed in range(SEEDS):
            # `size` customers known at the cut: acquired over the calibration year
            rng = np.random.default_rng(100 + seed)
            orders = buyer_sim.shop_orders(rng, size, start, 365, **TRUE, until_days=730)
            began = time.perf_counter()
            result = predictions.backtest(orders, cut, end)
            seconds.append(time.perf_counter() - began)
            errors.append(result.aggregate_error)
            maes.append(result.per_customer_mae)
        found[str(size)] = {
            "shops": SEEDS,
            "aggregate_error_median": round(statistics.median(errors), 3),
            "aggregate_error_max": round(max(errors), 3),
            "aggregate_error_seed0": round(errors[0], 3),
            "per_customer_mae_median": round(statistics.median(maes), 3),
            "seconds_median": round(statistics.median(seconds), 3),
        }
    return found


def _demo_backtests() -> dict[str, Any]:
    """The same backtest on the demo shop's generated customers (`comeback demo`'s generator, not
    BG/NBD-shaped): their planned orders over 548 days, fitted on the first two thirds."""
    from comeback.demo.generator import generate
    from comeback.demo.responses import planned_orders

    start = datetime(2025, 5, 1, tzinfo=UTC)
    days = 548
    cut, end = start + timedelta(days=round(days * 2 / 3)), start + timedelta(days=days)
    found: dict[str, Any] = {}
    for size in BACKTEST_SIZES:
        shop = generate(seed=7, customers=size, start=start.date(), days=days)
        orders = list(planned_orders(shop.all_events()).values())
        result = predictions.backtest(orders, cut, end)
        found[str(size)] = {
            "customers_known_at_cut": result.customers,
            "repeaters_at_cut": result.model.repeat_customers if result.model else 0,
            "confidence": result.model.confidence if result.model else None,
            "predicted": round(result.predicted, 1),
            "actual": result.actual,
            "aggregate_error": None if result.model is None else round(result.aggregate_error, 3),
        }
    return found


def run() -> dict[str, Any]:
    return {
        "fit_and_score": _fit_and_score(),
        "layer": _numpy_size(),
        "backtest": _backtests(),
        "demo_backtest": _demo_backtests(),
    }
