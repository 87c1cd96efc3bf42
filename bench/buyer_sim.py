"""Customers simulated with the prediction models themselves (seeded numpy), for tests and the bench.

BG/NBD: each customer orders at a rate lambda ~ Gamma(r, alpha) (per day) from its first order,
and drops out after each repeat order with probability p ~ Beta(a, b). Gamma-Gamma: each order's
value ~ Gamma(p, nu), nu ~ Gamma(q, v) per customer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray


def order_times(
    rng: np.random.Generator, ages: NDArray[np.float64], r: float, alpha: float, a: float, b: float
) -> list[NDArray[np.float64]]:
    """Each customer's repeat order times (days after its first order), up to its age."""
    n = ages.size
    rates = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    now = np.zeros(n)
    times: list[list[float]] = [[] for _ in range(n)]
    live = np.arange(n)
    while live.size:
        now[live] += rng.exponential(1.0, live.size) / np.maximum(rates[live], 1e-300)
        bought = now[live] <= ages[live]
        live = live[bought]
        for i in live:
            times[i].append(float(now[i]))
        live = live[rng.random(live.size) >= dropout[live]]  # drops out after this order
    return [np.array(t) for t in times]


def histories(
    rng: np.random.Generator, ages: NDArray[np.float64], r: float, alpha: float, a: float, b: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(x, t_x) of customers aged `ages` days, by the BG/NBD process."""
    n = ages.size
    rates = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    now = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    live = np.arange(n)
    while live.size:
        now[live] += rng.exponential(1.0, live.size) / np.maximum(rates[live], 1e-300)
        live = live[now[live] <= ages[live]]
        x[live] += 1
        t_x[live] = now[live]
        live = live[rng.random(live.size) >= dropout[live]]
    return x, t_x


def order_values(
    rng: np.random.Generator, orders: NDArray[np.int64], p: float, q: float, v: float
) -> NDArray[np.float64]:
    """Each customer's mean order value over its `orders` orders, by the Gamma-Gamma process."""
    nu = rng.gamma(q, 1 / v, orders.size)
    # a sum of x Gamma(p, nu) values is Gamma(p x, nu): the mean without drawing every order
    return rng.gamma(p * orders, 1 / nu) / orders


def shop_orders(
    rng: np.random.Generator, customers: int, start: datetime, days: int,
    r: float = 0.25, alpha: float = 30.0, a: float = 0.8, b: float = 2.5, until_days: int | None = None,
) -> list[list[datetime]]:  # fmt: skip
    """A shop's order dates: customers first order uniformly over `days` from `start`, then order
    by BG/NBD up to `until_days` from `start` (by default, `days`)."""
    first = rng.uniform(0, days, customers)
    repeats = order_times(rng, (until_days or days) - first, r, alpha, a, b)
    return [
        [start + timedelta(days=float(f))] + [start + timedelta(days=float(f + t)) for t in later]
        for f, later in zip(first, repeats, strict=True)
    ]
