"""BG/NBD and Gamma-Gamma: the formulas at the published CDNOW parameters, the fits on data
simulated with the models themselves, per-contact scoring from a profile, and the backtest."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import buyer_sim
from comeback.domain import predictions
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.prediction_model import FittedModel, qualification
from comeback.domain.predictions import Histories
from comeback.domain.profile import empty

# BG/NBD on the CDNOW sample (weeks), Fader, Hardie & Lee 2005
CDNOW = (0.243, 4.414, 0.793, 2.426)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
# the simulated shop's true parameters (days): a customer orders every ~4 months while alive
TRUE = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5}
SPEND = {"p": 6.25, "q": 3.74, "v": 1544.0}  # CDNOW's Gamma-Gamma, in cents


def simulated(n: int, seed: int = 7, max_age: float = 730.0) -> Histories:
    rng = np.random.default_rng(seed)
    ages = rng.uniform(0, max_age, n)
    x, t_x = buyer_sim.histories(rng, ages, **TRUE)
    spend = buyer_sim.order_values(rng, x + 1, **SPEND) * (x + 1)
    return Histories(x, t_x, ages, spend, max_age)


@pytest.fixture(scope="module")
def shop_model() -> FittedModel:
    model = predictions.fit(simulated(4000), NOW, "USD")
    assert model is not None
    return model


# -- the formulas --------------------------------------------------------------------------------


def test_the_conditional_expectation_is_the_papers_cdnow_figure():
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 weeks makes 1.226 purchases in the next 39
    expected = predictions.expected_purchases(*CDNOW, 39.0, [2], [30.43], [38.86])
    assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_p_alive_is_the_papers_closed_form_and_one_for_a_one_time_buyer_in_bg_nbd_itself():
    r, alpha, a, b = CDNOW
    by_hand = 1 / (1 + a / (b + 2 - 1) * ((alpha + 38.86) / (alpha + 30.43)) ** (r + 2))
    assert predictions.p_alive(*CDNOW, [2], [30.43], [38.86])[0] == pytest.approx(by_hand, rel=1e-12)
    raw = predictions.p_alive(*CDNOW, [0, 0], [0, 0], [1.0, 300.0], one_time_dropout=False)
    assert list(raw) == [1.0, 1.0]  # the known weakness: no dropout before a repeat order


def test_a_one_time_buyers_p_alive_falls_as_it_stays_away():
    ages = [0.0, 10.0, 52.0, 200.0]
    alive = predictions.p_alive(*CDNOW, [0] * 4, [0] * 4, ages)
    r, alpha, a, b = CDNOW
    assert alive[0] == pytest.approx(b / (a + b))  # just bought: alive unless it dropped out, with the mean p
    assert all(later < earlier for earlier, later in itertools.pairwise(alive))
    assert alive[-1] == pytest.approx(1 / (1 + a / b * ((alpha + 200) / alpha) ** r))


def reference_hyp2f1(a: float, b: float, c: float, z: float) -> float:
    total, term, n = 1.0, 1.0, 0
    while abs(term) > 1e-16 * abs(total) or n < 5:
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return total


@pytest.mark.parametrize(
    ("x", "t_x", "T", "t"), [(0, 0.0, 10.0, 30.0), (3, 20.0, 40.0, 10.0), (12, 50, 52, 20)]
)
def test_the_transformed_series_gives_the_papers_untransformed_formula(x, t_x, T, t):
    r, alpha, a, b = CDNOW
    z = t / (alpha + T + t)
    hyp = reference_hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    alive = 1 / (1 + (x > 0) * a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    found = predictions.expected_purchases(*CDNOW, t, [x], [t_x], [T])[0]
    assert found == pytest.approx(first * alive, rel=1e-9)


def test_the_log_likelihoods_are_the_papers_formulas_customer_by_customer():
    h = simulated(300, seed=3)
    r, alpha, a, b = CDNOW
    lg = math.lgamma
    by_hand = 0.0
    for x, t_x, T in zip(h.x, h.t_x, h.T, strict=True):
        a1 = lg(r + x) - lg(r) + r * math.log(alpha)
        a2 = lg(a + b) + lg(b + x) - lg(b) - lg(a + b + x)
        a3 = -(r + x) * math.log(alpha + T)
        a4 = math.log(a) - math.log(b + x - 1) - (r + x) * math.log(alpha + t_x) if x > 0 else -math.inf
        by_hand += a1 + a2 + math.log(math.exp(a3) + math.exp(a4))
    assert predictions.bgnbd_log_likelihood(*CDNOW, h.x, h.t_x, h.T) == pytest.approx(by_hand, rel=1e-10)
    p, q, v = 6.25, 3.74, 15.44
    orders = h.x[h.x > 0] + 1
    means = h.spend_minor[h.x > 0] / orders / 100
    gg = sum(
        lg(p * n + q) - lg(p * n) - lg(q) + q * math.log(v) + (p * n - 1) * math.log(m)
        + p * n * math.log(n) - (p * n + q) * math.log(v + n * m)
        for n, m in zip(orders, means, strict=True)
    )  # fmt: skip
    assert predictions.gamma_gamma_log_likelihood(p, q, v, orders, means) == pytest.approx(gg, rel=1e-10)


def test_the_conditional_order_value_moves_from_the_populations_mean_to_the_customers_own():
    p, q, v = 6.25, 3.74, 15.44
    population = p * v / (q - 1)  # E[Z]: CDNOW's repeaters spend about $35 an order
    assert population == pytest.approx(35.22, abs=0.01)
    values = predictions.conditional_order_value(p, q, v, [1, 5, 50, 5000], [100.0] * 4)
    assert population < values[0] < values[1] < values[2] < values[3] < 100
    assert values[3] == pytest.approx(100, rel=1e-3)


# -- the fits ------------------------------------------------------------------------------------


def test_the_bg_nbd_fit_recovers_the_parameters_it_was_simulated_with(shop_model):
    # 4,000 customers: r and alpha within 15 %, a and b within 30 % (a and b trade off)
    assert shop_model.r == pytest.approx(TRUE["r"], rel=0.15)
    assert shop_model.alpha == pytest.approx(TRUE["alpha"], rel=0.15)
    assert shop_model.a == pytest.approx(TRUE["a"], rel=0.3)
    assert shop_model.b == pytest.approx(TRUE["b"], rel=0.3)


def test_the_gamma_gamma_fit_recovers_the_spend_parameters(shop_model):
    # some 1,700 repeaters: the mean order value within 5 %, p within 25 %, q and v within 35 %
    assert shop_model.mean_order_value == pytest.approx(SPEND["p"] * SPEND["v"] / (SPEND["q"] - 1), rel=0.05)
    assert shop_model.p == pytest.approx(SPEND["p"], rel=0.25)
    assert shop_model.q == pytest.approx(SPEND["q"], rel=0.35)
    assert shop_model.v == pytest.approx(SPEND["v"], rel=0.35)


def test_the_fit_is_at_the_likelihoods_maximum_and_its_histogram_matches_what_was_seen(shop_model):
    h = simulated(4000)
    best = predictions.bgnbd_log_likelihood(
        shop_model.r, shop_model.alpha, shop_model.a, shop_model.b, h.x, h.t_x, h.T
    )
    assert best == pytest.approx(shop_model.log_likelihood)
    for factor in (0.9, 1.1):  # every parameter moved 10 % lowers it
        for i in range(4):
            params = [shop_model.r, shop_model.alpha, shop_model.a, shop_model.b]
            params[i] *= factor
            assert predictions.bgnbd_log_likelihood(*params, h.x, h.t_x, h.T) < best
    bins = shop_model.quality.histogram
    assert [b.repeats for b in bins] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(b.actual for b in bins) == 4000
    assert sum(b.expected for b in bins) == pytest.approx(4000)
    assert shop_model.quality.histogram_mae_share < 0.01


def test_the_fit_does_not_depend_on_the_order_of_the_customers(shop_model):
    h = simulated(4000)
    order = np.random.default_rng(11).permutation(h.x.size)
    shuffled = Histories(h.x[order], h.t_x[order], h.T[order], h.spend_minor[order], h.history_days)
    again = predictions.fit(shuffled, NOW, "USD")
    assert again is not None
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        assert getattr(again, name) == pytest.approx(getattr(shop_model, name), rel=1e-4), name


def test_a_shop_qualifies_from_200_repeat_customers_and_90_days_low_confidence_under_500():
    assert qualification(199, 400) == (False, "low")
    assert qualification(200, 89.9) == (False, "low")
    assert qualification(200, 90) == (True, "low")
    assert qualification(500, 90) == (True, "normal")
    assert (
        predictions.fit(Histories(np.zeros(5, dtype=np.int64), np.zeros(5), np.ones(5), np.zeros(5), 5), NOW)
        is None
    )


def test_the_model_is_json_and_back(shop_model):
    assert FittedModel.model_validate_json(shop_model.model_dump_json()) == shop_model


# -- scoring a contact -----------------------------------------------------------------------------


def buyer(orders: int, first_days_ago: float, last_days_ago: float, spent: int = 12_000):
    return empty("demo", "c-1", "c-1").model_copy(
        update={
            "orders_count": orders,
            "first_order_at": isoformat(NOW - timedelta(days=first_days_ago)),
            "last_order_at": isoformat(NOW - timedelta(days=last_days_ago)),
            "spent": {"USD": spent},
        }
    )


def test_a_contact_is_scored_from_its_frequency_recency_and_age(shop_model):
    found = predictions.score(buyer(4, 300, 20), shop_model, NOW)
    assert found is not None
    assert found.p_alive_basis == "bg_nbd" and found.confidence == "normal"
    assert 0.5 < found.p_alive < 1 and 0.1 < found.expected_orders_90d < 3
    assert found.predicted_clv_365d is not None and found.predicted_clv_365d > 0
    assert parse_iso(found.expected_next_order_at) > NOW
    assert predictions.score(buyer(4, 300, 20), None, NOW) is None
    short = shop_model.model_copy(update={"qualifies": False})
    assert predictions.score(buyer(4, 300, 20), short, NOW) is None
    assert predictions.score(empty("demo", "c-2", "c-2"), shop_model, NOW) is None  # no order yet


def test_a_new_order_raises_p_alive_and_the_expected_orders(shop_model):
    before = predictions.score(buyer(3, 300, 150), shop_model, NOW)
    after = predictions.score(buyer(4, 300, 0, 16_000), shop_model, NOW)
    assert before is not None and after is not None
    assert after.p_alive > before.p_alive
    assert after.expected_orders_90d > before.expected_orders_90d
    assert after.predicted_clv_365d > before.predicted_clv_365d  # type: ignore[operator]


def test_with_no_order_p_alive_decays_and_the_expected_next_order_moves_on(shop_model):
    profile = buyer(5, 200, 10)
    seen = [predictions.score(profile, shop_model, NOW + timedelta(days=d)) for d in (0, 60, 180, 400)]
    assert all(s is not None for s in seen)
    alive = [s.p_alive for s in seen]  # type: ignore[union-attr]
    nexts = [parse_iso(s.expected_next_order_at) for s in seen]  # type: ignore[union-attr]
    assert alive == sorted(alive, reverse=True) and alive[0] > alive[-1]
    assert nexts == sorted(nexts) and all(
        n > NOW + timedelta(days=d) for n, d in zip(nexts, (0, 60, 180, 400), strict=True)
    )


def test_a_one_time_buyer_is_scored_with_the_first_order_dropout_and_says_so(shop_model):
    fresh = predictions.score(buyer(1, 5, 5), shop_model, NOW)
    stale = predictions.score(buyer(1, 400, 400), shop_model, NOW)
    assert fresh is not None and stale is not None
    assert fresh.p_alive_basis == stale.p_alive_basis == "one_time_buyer"
    assert stale.p_alive < fresh.p_alive < 1
    assert stale.expected_orders_90d < fresh.expected_orders_90d


def test_the_age_at_which_p_alive_falls_below_a_threshold(shop_model):
    params = (shop_model.r, shop_model.alpha, shop_model.a, shop_model.b)
    for x, t_x in ((0, 0.0), (2, 40.0), (8, 200.0)):
        age = predictions.alive_until(shop_model, x, t_x, 0.5)
        assert predictions.p_alive(*params, [x], [t_x], [age])[0] == pytest.approx(0.5, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    x=st.integers(0, 40),
    t_x=st.floats(0, 500),
    gap=st.floats(0, 500),
    more=st.floats(0.1, 500),
)
def test_p_alive_and_the_expected_orders_never_rise_while_the_customer_stays_away(x, t_x, gap, more):
    t_x = t_x if x else 0.0
    T = t_x + gap
    now, later = predictions.p_alive(*CDNOW, [x, x], [t_x, t_x], [T, T + more])
    assert 0 <= later <= now <= 1
    e_now, e_later = predictions.expected_purchases(*CDNOW, 39.0, [x, x], [t_x, t_x], [T, T + more])
    assert e_later <= e_now * (1 + 1e-9) + 1e-12


# -- backtest ------------------------------------------------------------------------------------


def test_the_backtest_predicts_a_simulated_shops_holdout_within_ten_percent():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    orders = buyer_sim.shop_orders(np.random.default_rng(5), 3000, start, 730, **TRUE)
    cut = start + timedelta(days=365)
    # customers who first ordered in the holdout year are left out: the calibration knew nothing of them
    result = predictions.backtest(orders, cut, start + timedelta(days=730))
    assert result.customers == sum(1 for o in orders if o[0] <= cut)
    assert result.actual > 500 and result.model is not None
    assert result.aggregate_error <= 0.10, result
    assert result.per_customer_mae < 1.5


def test_a_small_shop_whose_dropout_looks_the_same_for_everyone_still_gets_finite_forecasts():
    # this simulated shop of 200 drives Beta(a, b) towards a point mass (a, b running off to infinity)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    orders = buyer_sim.shop_orders(np.random.default_rng(105), 200, start, 365, **TRUE, until_days=730)
    result = predictions.backtest(orders, start + timedelta(days=365), start + timedelta(days=730))
    assert result.model is not None and result.model.b <= predictions.MAX_BETA
    assert math.isfinite(result.predicted) and result.aggregate_error < 0.15
