"""Purchase and spend predictions: BG/NBD and Gamma-Gamma, fitted per shop with numpy only.

**BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive, a
customer orders at rate lambda ~ Gamma(r, alpha); after each order it drops out with probability
p ~ Beta(a, b). A customer's history is three numbers: `x` repeat orders (orders - 1), `t_x` the
time of its last order and `T` its age, both since its first order, in **days**.

**Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"): a customer's order values average
to m_x over its x orders; each value ~ Gamma(p, nu) with nu ~ Gamma(q, v). We have no per-order
amounts (a profile keeps its total), so m_x is the mean over all the customer's orders (the first
included), in minor units of the shop's currency.

Per contact (`score`), from the fitted parameters, the contact's x, t_x, T and `now`:

- `p_alive`: P(still a customer | history). **One-time buyers**: BG/NBD lets a customer drop out
  only after a repeat order, so for x = 0 its p_alive is exactly 1 forever - the known weakness
  (a one-time buyer's churn risk never grows). For x = 0 we count the first order as a dropout
  opportunity too, with the shop's own fitted Beta(a, b): p_alive = 1 / (1 + a/b ((alpha+T)/alpha)^r),
  the MBG/NBD form (Batislam et al. 2007), which falls as the one-time buyer stays away; the
  contact's `p_alive_basis` says "one_time_buyer" so a reader knows it is that correction. The
  expected counts keep the fitted BG/NBD (they already fall with T through lambda's posterior,
  and they are what the backtest checks).
- `expected_orders_90d`: E[orders in (now, now + 90 d] | history] (eq. 10 of the paper).
- `predicted_clv_365d`: E[orders in the next 365 d] x the conditional expected order value
  (Gamma-Gamma), minor units, undiscounted (a year is short enough that discounting moves it
  less than the model's own error).
- `expected_next_order_at`: `now` + the median wait for the next order of a customer with this
  history, were it still a customer (lambda's posterior is Gamma(r + x, alpha + T), so the wait is
  Lomax: median (alpha + T)(2^(1/(r+x)) - 1)). It moves on with `now` - a customer who stays away
  is expected later, never at a date already past - unlike a date frozen at the last order.

Fitting is maximum likelihood: Nelder-Mead on the log-parameters (written here, restarted once
from its optimum). Log-gamma differences at integer counts are sums of logs (exact, fast), and
the hypergeometric 2F1 of the conditional expectation is a series after Euler's transformation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.prediction_model import (
    MIN_REPEATERS_TO_FIT,
    FitQuality,
    FittedModel,
    HistogramBin,
    qualification,
)
from comeback.domain.profile import Profile, spent_in_main_currency
from comeback.domain.segments import Buyer

Array = NDArray[np.float64]
DAY_SECONDS = 86_400.0
HISTOGRAM_BINS = 7  # 0 .. 6 repeat orders, then "7+"
_BOUND = 15.0  # |log-parameter| the optimiser may reach (e^15: far beyond any shop)
# Beta(a, b) with a or b over this is a point mass in all but name (every customer the same dropout
# probability); beyond it a small shop's likelihood runs on flat towards infinity, where the
# conditional expectation's series overflows, so the fit stops there (at no cost in likelihood).
MAX_BETA = 200.0
_TINY = 1e-300

__all__ = ["FittedModel", "expected_purchases", "fit", "fit_buyers", "p_alive", "score"]


# -- log-likelihoods ---------------------------------------------------------------------------


def _rising_log(c: float, counts: NDArray[np.int64]) -> Array:
    """ln Gamma(c + n) - ln Gamma(c) for integer n >= 0: the sum of ln(c + k), k < n, by table."""
    top = int(counts.max()) if counts.size else 0
    table = np.zeros(top + 1)
    if top:
        table[1:] = np.cumsum(np.log(c + np.arange(top, dtype=np.float64)))
    return table[counts]


class _BgNbdData:
    """Histories with what every evaluation reuses: customers by count, the repeaters apart."""

    def __init__(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> None:
        xs = np.asarray(x, dtype=np.int64)
        self.n = xs.size
        self.by_count = np.bincount(xs) if xs.size else np.zeros(1, dtype=np.int64)
        self.counts = np.arange(self.by_count.size, dtype=np.int64)
        self.age = np.asarray(T, dtype=np.float64)
        repeat = xs > 0
        self.repeat = repeat
        self.xr = xs[repeat].astype(np.float64)
        self.tx_r = np.asarray(t_x, dtype=np.float64)[repeat]
        self.age_r = self.age[repeat]
        self.age_once = self.age[~repeat]

    def log_likelihood(self, r: float, alpha: float, a: float, b: float) -> float:
        # the gamma and beta terms depend on x only: one value per count, times its customers
        per_count = (
            _rising_log(r, self.counts) + _rising_log(b, self.counts) - _rising_log(a + b, self.counts)
        )
        total = float(per_count @ self.by_count) + self.n * r * math.log(alpha)
        total -= r * float(np.sum(np.log(alpha + self.age_once)))  # x = 0: alive all along
        xr = self.xr
        a3 = -(r + xr) * np.log(alpha + self.age_r)
        a4 = math.log(a) - np.log(b + xr - 1) - (r + xr) * np.log(alpha + self.tx_r)
        return total + float(np.sum(np.logaddexp(a3, a4)))


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> float:
    """The BG/NBD log-likelihood of the histories (x, t_x, T), summed (FHL 2005, eq. 6)."""
    return _BgNbdData(x, t_x, T).log_likelihood(r, alpha, a, b)


class _GammaGammaData:
    """Repeat buyers' order counts and mean values, with the sums that do not depend on p, q, v."""

    def __init__(self, x: ArrayLike, m: ArrayLike) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.m = np.asarray(m, dtype=np.float64)
        self.unique, self.per_unique = np.unique(self.x, return_counts=True)
        log_m = np.log(self.m)
        self.sum_x_log_m = float(self.x @ log_m)
        self.sum_log_m = float(np.sum(log_m))
        self.sum_x_log_x = float(self.x @ np.log(self.x))

    def log_likelihood(self, p: float, q: float, v: float) -> float:
        lg = np.array([math.lgamma(p * u + q) - math.lgamma(p * u) for u in self.unique])
        total = float(lg @ self.per_unique) + self.x.size * (q * math.log(v) - math.lgamma(q))
        total += p * self.sum_x_log_m - self.sum_log_m + p * self.sum_x_log_x
        return total - float(np.sum((p * self.x + q) * np.log(v + self.x * self.m)))


def gamma_gamma_log_likelihood(p: float, q: float, v: float, x: ArrayLike, m: ArrayLike) -> float:
    """The Gamma-Gamma log-likelihood of mean order values `m` over `x` orders each, summed."""
    return _GammaGammaData(x, m).log_likelihood(p, q, v)


# -- the optimiser -------------------------------------------------------------------------------


def _nelder_mead(
    f: Callable[[Array], float], start: Array, step: float = 0.7, max_evals: int = 4000,
    tol: float = 1e-10, xtol: float = 1e-6,
) -> tuple[Array, float]:  # fmt: skip
    """Minimise `f` from `start` (the classic simplex: reflect, expand, contract, shrink)."""
    n = start.size
    points = [start.copy()] + [start + step * np.eye(n)[i] for i in range(n)]
    values = [f(pt) for pt in points]
    evals = n + 1
    while evals < max_evals:
        order = np.argsort(values)
        points = [points[i] for i in order]
        values = [values[i] for i in order]
        spread = max(abs(v - values[0]) for v in values[1:])
        size = max(float(np.max(np.abs(pt - points[0]))) for pt in points[1:])
        if spread <= tol * (1 + abs(values[0])) and size <= xtol:
            break
        centroid = np.mean(points[:-1], axis=0)
        worst = points[-1]
        reflected = centroid + (centroid - worst)
        fr = f(reflected)
        evals += 1
        if fr < values[0]:
            expanded = centroid + 2 * (centroid - worst)
            fe = f(expanded)
            evals += 1
            points[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
            continue
        if fr < values[-2]:
            points[-1], values[-1] = reflected, fr
            continue
        inside = fr >= values[-1]
        contracted = centroid + 0.5 * ((worst if inside else reflected) - centroid)
        fc = f(contracted)
        evals += 1
        if fc < min(fr, values[-1]):
            points[-1], values[-1] = contracted, fc
            continue
        for i in range(1, n + 1):  # shrink towards the best
            points[i] = points[0] + 0.5 * (points[i] - points[0])
            values[i] = f(points[i])
        evals += n
    best = int(np.argmin(values))
    return points[best], values[best]


def _minimise(f: Callable[[Array], float], start: Array) -> tuple[Array, float]:
    """Nelder-Mead, restarted once from where it stopped (a simplex can collapse early)."""
    found, _ = _nelder_mead(f, start)
    return _nelder_mead(f, found, step=0.1)


def _bounded(f: Callable[[Array], float], upper: Array | None = None) -> Callable[[Array], float]:
    top = np.full(1, _BOUND) if upper is None else upper

    def guarded(theta: Array) -> float:
        if np.any(theta < -_BOUND) or np.any(theta > top):
            return math.inf
        with np.errstate(all="ignore"):
            value = f(theta)
        return value if math.isfinite(value) else math.inf

    return guarded


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> tuple[tuple[float, float, float, float], float]:
    """(r, alpha, a, b) by maximum likelihood, and the log-likelihood at them."""
    data = _BgNbdData(x, t_x, T)
    orders = float(data.by_count @ data.counts)
    rate = max(orders, 1.0) / max(float(np.sum(data.age)), 1.0)  # orders per day, pooled
    start = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))

    def negative(theta: Array) -> float:
        r, alpha, a, b = np.exp(theta)
        return -data.log_likelihood(r, alpha, a, b)

    upper = np.array([_BOUND, _BOUND, math.log(MAX_BETA), math.log(MAX_BETA)])
    theta, value = _minimise(_bounded(negative, upper), start)
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    return (r, alpha, a, b), -value


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> tuple[tuple[float, float, float], float]:
    """(p, q, v) by maximum likelihood on repeat buyers' mean order values, and the log-likelihood."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(m, dtype=np.float64)
    scale = float(np.mean(ms))  # fit on values near 1; v scales with the money, p and q do not
    data = _GammaGammaData(xs, ms / scale)
    start = np.log(np.array([2.0, 3.0, 2.0]))

    def negative(theta: Array) -> float:
        p, q, v = np.exp(theta)
        return -data.log_likelihood(p, q, v)

    theta, value = _minimise(_bounded(negative), start)
    p, q, v = (float(val) for val in np.exp(theta))
    # the likelihood in money units differs by the Jacobian of the scaling: -n ln(scale)
    return (p, q, v * scale), float(-value - xs.size * math.log(scale))


# -- the formulas ----------------------------------------------------------------------------------


def _hyp2f1(a: float, b: float, c: Array, z: Array, max_terms: int = 20_000) -> Array:
    """Gauss's 2F1(a, b; c; z) for 0 <= z < 1 as its power series, term by term until it settles."""
    total = np.ones_like(z)
    term = np.ones_like(z)
    live = np.arange(z.size)
    cz, zz = c.ravel(), z.ravel()
    flat_total = total.ravel()
    t = term.ravel()
    for n in range(max_terms):
        t = t * ((a + n) * (b + n) / ((cz[live] + n) * (n + 1))) * zz[live]
        flat_total[live] += t
        if n % 16 == 15:  # drop the settled ones now and then (the far-from-1 z settle in a few terms)
            going = np.abs(t) > 1e-14 * np.abs(flat_total[live])
            if not going.any():
                break
            live, t = live[going], t[going]
    return flat_total.reshape(z.shape)


def p_alive(
    r: float, alpha: float, a: float, b: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike,
    one_time_dropout: bool = True,
) -> Array:  # fmt: skip
    """P(alive | x, t_x, T). With `one_time_dropout`, a one-time buyer (x = 0) may have dropped out
    after its first order (see the module docstring); without it, BG/NBD's own 1 for x = 0."""
    xf = np.asarray(x, dtype=np.float64)
    tx, age = np.asarray(t_x, dtype=np.float64), np.asarray(T, dtype=np.float64)
    repeat = xf > 0
    log_k = np.where(repeat, math.log(a) - np.log(np.where(repeat, b + xf - 1, 1.0)), math.log(a / b))
    z = log_k + (r + xf) * (np.log(alpha + age) - np.log(alpha + tx))
    alive = np.exp(-np.logaddexp(0.0, z))  # 1 / (1 + e^z), without overflow
    return alive if one_time_dropout else np.where(repeat, alive, 1.0)


def expected_purchases(
    r: float, alpha: float, a: float, b: float, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> Array:
    """E[orders in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10).

    Euler's transformation turns its 2F1(r+x, b+x; a+b+x-1; z) into
    (1-z)^(a-1-r-x) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose series settles fast even for a large x.
    """
    if abs(a - 1) < 1e-7:  # the formula's removable singularity at a = 1
        a = 1 + math.copysign(1e-7, a - 1)
    xf = np.asarray(x, dtype=np.float64)
    age = np.asarray(T, dtype=np.float64) + np.zeros_like(xf)
    z = t / (alpha + age + t)
    series = _hyp2f1(a + b - 1 - r, a - 1, a + b + xf - 1, z)
    bracket = 1 - ((alpha + age) / (alpha + age + t)) ** (a - 1) * series
    alive = p_alive(r, alpha, a, b, xf, t_x, age, one_time_dropout=False)
    return np.asarray((a + b + xf - 1) / (a - 1) * bracket * alive, dtype=np.float64)


def repeat_histogram(
    r: float, alpha: float, a: float, b: float, x: ArrayLike, T: ArrayLike
) -> list[HistogramBin]:
    """Customers by repeat orders in their own (0, T]: seen, and expected, sum of P(X(T) = k) (eq. 8)."""
    xs = np.asarray(x, dtype=np.int64)
    age = np.asarray(T, dtype=np.float64)
    log_lead = r * (np.log(alpha) - np.log(alpha + age))  # ln (alpha / (alpha + T))^r
    log_odds = np.log(np.maximum(age, _TINY)) - np.log(alpha + age)  # ln T / (alpha + T)
    ks = np.arange(HISTOGRAM_BINS, dtype=np.int64)
    rise_r, rise_b, rise_ab = _rising_log(r, ks), _rising_log(b, ks), _rising_log(a + b, ks)
    bins: list[HistogramBin] = []
    partial = np.zeros_like(age)  # sum over j < k of Gamma(r+j)/(Gamma(r) j!) (T/(alpha+T))^j
    expected_total = 0.0
    for k in range(HISTOGRAM_BINS):
        # Gamma(r+k)/(Gamma(r) k!) (alpha/(alpha+T))^r (T/(alpha+T))^k: the NBD's P(k) at age T
        nbd = np.exp(rise_r[k] - math.lgamma(k + 1) + log_lead + (k * log_odds if k else 0.0))
        prob = math.exp(rise_b[k] - rise_ab[k]) * nbd
        if k:  # or dropped out after the k-th: B(a+1, b+k-1)/B(a, b) (1 - P(NBD < k))
            dropped = math.exp(math.log(a) + rise_b[k - 1] - rise_ab[k])
            prob = prob + dropped * (1 - partial)
        partial = partial + nbd
        expected = float(np.sum(prob))
        expected_total += expected
        bins.append(HistogramBin(repeats=str(k), actual=int(np.sum(xs == k)), expected=expected))
    bins.append(
        HistogramBin(
            repeats=f"{HISTOGRAM_BINS}+",
            actual=int(np.sum(xs >= HISTOGRAM_BINS)),
            expected=max(0.0, float(xs.size) - expected_total),
        )
    )
    return bins


def conditional_order_value(p: float, q: float, v: float, x: ArrayLike, m: ArrayLike) -> Array:
    """E[average order value | x orders averaging m] = p (v + x m) / (p x + q - 1) (Gamma-Gamma):
    the population's mean pulled towards the customer's own as its orders add up."""
    xs = np.asarray(x, dtype=np.float64)
    ms = np.asarray(m, dtype=np.float64)
    return np.asarray(p * (v + xs * ms) / np.maximum(p * xs + q - 1, _TINY), dtype=np.float64)


# -- fitting a shop -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Histories:
    """Customers as the models see them, one entry each (days since each one's first order)."""

    x: NDArray[np.int64]
    t_x: Array
    T: Array
    spend_minor: Array  # each customer's total spend in the shop's currency (0: none known)
    history_days: float


def histories_of(buyers: Iterable[Buyer], now: datetime) -> Histories:
    """The buyers that have a first order (the others are not counted), as arrays."""
    xs: list[int] = []
    tx: list[float] = []
    ages: list[float] = []
    spend: list[float] = []
    earliest: datetime | None = None
    for buyer in buyers:
        if buyer.first_order_at is None:
            continue
        first = buyer.first_order_at
        earliest = first if earliest is None or first < earliest else earliest
        age = max(0.0, (now - first).total_seconds() / DAY_SECONDS)
        xs.append(buyer.orders - 1)
        tx.append(min(age, max(0.0, (buyer.last_order_at - first).total_seconds() / DAY_SECONDS)))
        ages.append(age)
        spend.append(float(buyer.spent_minor))
    history = (now - earliest).total_seconds() / DAY_SECONDS if earliest else 0.0
    return Histories(
        np.array(xs, dtype=np.int64), np.array(tx), np.array(ages), np.array(spend), max(0.0, history)
    )


def fit(histories: Histories, now: datetime, currency: str | None = None) -> FittedModel | None:
    """The shop's model (None: fewer than `MIN_REPEATERS_TO_FIT` customers with a repeat order)."""
    h = histories
    repeaters = int(np.sum(h.x > 0))
    if repeaters < MIN_REPEATERS_TO_FIT:
        return None
    (r, alpha, a, b), ll = fit_bgnbd(h.x, h.t_x, h.T)
    spend_params: tuple[float, float, float] | None = None
    spend_ll: float | None = None
    spenders = (h.x > 0) & (h.spend_minor > 0)
    if np.sum(spenders) >= 2:
        orders = h.x[spenders] + 1
        spend_params, spend_ll = fit_gamma_gamma(orders, h.spend_minor[spenders] / orders)
    bins = repeat_histogram(r, alpha, a, b, h.x, h.T)
    mae = float(np.mean([abs(b.expected - b.actual) for b in bins]))
    qualifies, confidence = qualification(repeaters, h.history_days)
    p, q, v = spend_params if spend_params else (None, None, None)
    return FittedModel(
        r=r, alpha=alpha, a=a, b=b, p=p, q=q, v=v,
        currency=currency if spend_params else None,
        customers=int(h.x.size),
        repeat_customers=repeaters,
        history_days=round(h.history_days, 3),
        fitted_at=isoformat(now),
        log_likelihood=ll,
        spend_log_likelihood=spend_ll,
        quality=FitQuality(histogram=bins, histogram_mae=mae, histogram_mae_share=mae / max(1, h.x.size)),
        confidence=confidence,
        qualifies=qualifies,
    )  # fmt: skip


def fit_buyers(buyers: Iterable[Buyer], now: datetime, currency: str | None = None) -> FittedModel | None:
    return fit(histories_of(buyers, now), now, currency)


# -- scoring one contact -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactPrediction:
    p_alive: float
    # "bg_nbd": the model's own; "one_time_buyer": x = 0, with the first-order dropout (docstring)
    p_alive_basis: Literal["bg_nbd", "one_time_buyer"]
    expected_orders_90d: float
    predicted_clv_365d: int | None  # minor units of the model's currency (None: no spend model)
    expected_next_order_at: str
    confidence: str


def _days(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / DAY_SECONDS)


def history_of(profile: Profile, now: datetime) -> tuple[int, float, float] | None:
    """(x, t_x, T) in days, or None: no order, or the contact is erased or merged."""
    if profile.orders_count < 1 or not profile.first_order_at or not profile.last_order_at:
        return None
    if profile.erased_at or profile.merged_into:
        return None
    first = parse_iso(profile.first_order_at)
    age = _days(now, first)
    return profile.orders_count - 1, min(age, _days(parse_iso(profile.last_order_at), first)), age


def alive_until(model: FittedModel, x: int, t_x: float, threshold: float) -> float:
    """The age (days since the first order) at which p_alive falls below `threshold` with no
    new order: p_alive falls with T for fixed x, t_x, so this has a closed form."""
    log_k = math.log(model.a / (model.b + x - 1)) if x > 0 else math.log(model.a / model.b)
    base = t_x if x > 0 else 0.0
    shift = (math.log(1 / threshold - 1) - log_k) / (model.r + x)
    return max(base, (model.alpha + base) * math.exp(shift) - model.alpha)


def median_wait_days(model: FittedModel, x: int, T: float) -> float:
    """Median days to the next order of a customer still alive: lambda ~ Gamma(r+x, alpha+T)."""
    return (model.alpha + T) * (2 ** (1 / (model.r + x)) - 1)


def score(
    profile: Profile, model: FittedModel | None, now: datetime, currency: str | None = None
) -> ContactPrediction | None:
    """The contact's predictions now (None: no model, a shop short of history, or not a buyer).

    The spend is the contact's in `currency`, else in its main currency (as the job fitted it)."""
    if model is None or not model.qualifies:
        return None
    found = history_of(profile, now)
    if found is None:
        return None
    x, t_x, T = found
    params = (model.r, model.alpha, model.a, model.b)
    alive = float(p_alive(*params, [x], [t_x], [T])[0])
    ninety = float(expected_purchases(*params, 90.0, [x], [t_x], [T])[0])
    year = float(expected_purchases(*params, 365.0, [x], [t_x], [T])[0])
    clv = None
    if model.p is not None and model.q is not None and model.v is not None:
        spent = profile.spent.get(currency, 0) if currency else spent_in_main_currency(profile.spent)
        value = (
            float(conditional_order_value(model.p, model.q, model.v, [x + 1], [spent / (x + 1)])[0])
            if spent > 0
            else model.mean_order_value or 0.0  # nothing known of its spend: the population's mean
        )
        clv = round(year * value)
    wait = median_wait_days(model, x, T)
    return ContactPrediction(
        p_alive=round(alive, 4),
        p_alive_basis="bg_nbd" if x > 0 else "one_time_buyer",
        expected_orders_90d=round(ninety, 4),
        predicted_clv_365d=clv,
        expected_next_order_at=isoformat(now + timedelta(days=min(wait, 36_500.0))),
        confidence=model.confidence,
    )


# -- backtest ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    customers: int
    holdout_days: float
    predicted: float  # repeat orders in the holdout period, all customers
    actual: int
    aggregate_error: float  # |predicted - actual| / actual
    per_customer_mae: float
    model: FittedModel | None


def backtest(
    histories: Sequence[Sequence[datetime]], calibration_end: datetime, holdout_end: datetime
) -> Backtest:
    """Fit on the orders up to `calibration_end`, predict each customer's orders up to `holdout_end`.

    `histories` is each customer's order times (any order). Customers whose first order comes
    after `calibration_end` are left out: the calibration knew nothing of them.
    """
    xs: list[int] = []
    tx: list[float] = []
    ages: list[float] = []
    actual: list[int] = []
    earliest: datetime | None = None
    for orders in histories:
        times = sorted(orders)
        if not times or times[0] > calibration_end:
            continue
        first = times[0]
        earliest = first if earliest is None or first < earliest else earliest
        before = [t for t in times if t <= calibration_end]
        xs.append(len(before) - 1)
        tx.append(_days(before[-1], first))
        ages.append(_days(calibration_end, first))
        actual.append(sum(1 for t in times if calibration_end < t <= holdout_end))
    span = _days(holdout_end, calibration_end)
    history = Histories(
        np.array(xs, dtype=np.int64), np.array(tx), np.array(ages), np.zeros(len(xs)),
        _days(calibration_end, earliest) if earliest else 0.0,
    )  # fmt: skip
    model = fit(history, calibration_end)
    if model is None:
        return Backtest(len(xs), span, 0.0, sum(actual), math.nan, math.nan, None)
    predicted = expected_purchases(
        model.r, model.alpha, model.a, model.b, span, history.x, history.t_x, history.T
    )
    seen = np.array(actual, dtype=np.float64)
    total = float(np.sum(predicted))
    return Backtest(
        customers=len(xs),
        holdout_days=span,
        predicted=total,
        actual=int(seen.sum()),
        aggregate_error=abs(total - seen.sum()) / seen.sum() if seen.sum() else math.nan,
        per_customer_mae=float(np.mean(np.abs(predicted - seen))),
        model=model,
    )
