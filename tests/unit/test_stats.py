"""Newcombe's hybrid score interval and the smallest detectable difference."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comeback.domain.stats import (
    minimal_detectable_difference,
    newcombe_difference,
    power,
    wilson,
)

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (score, no continuity
# correction): (successes 1, trials 1, successes 2, trials 2) -> (lower, upper), 4 decimals.
# The paper's examples (a) to (h), with zeros and all-successes among them.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((0, 10, 0, 10), (-0.2775, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
    ((10, 10, 0, 10), (0.6075, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_TABLE_II)
def test_the_interval_reproduces_newcombes_published_examples(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    x1, n1, x2, n2 = counts
    found = newcombe_difference(x1, n1, x2, n2)
    assert found.estimate == pytest.approx(x1 / n1 - x2 / n2)
    assert round(found.low, 4) == published[0]
    assert round(found.high, 4) == published[1]


def test_wilson_reproduces_the_published_single_proportion_intervals() -> None:
    # Newcombe (1998) Table I / Wilson (1927): 81/263 -> 0.2553..0.3662; 0/20 -> 0..0.1611
    assert tuple(round(b, 4) for b in wilson(81, 263)) == (0.2553, 0.3662)
    assert tuple(round(b, 4) for b in wilson(0, 20)) == (0.0, 0.1611)
    assert tuple(round(b, 4) for b in wilson(20, 20)) == (0.8389, 1.0)


def test_an_empty_group_gives_no_estimate_and_the_whole_range() -> None:
    for counts in ((0, 0, 3, 10), (3, 10, 0, 0), (0, 0, 0, 0)):
        found = newcombe_difference(*counts)
        assert found.estimate is None
        assert (found.low, found.high) == (-1.0, 1.0)
        assert not found.excludes_zero


def test_impossible_counts_and_confidences_are_refused() -> None:
    with pytest.raises(ValueError, match="impossible"):
        newcombe_difference(11, 10, 1, 10)
    with pytest.raises(ValueError, match="impossible"):
        newcombe_difference(-1, 10, 1, 10)
    with pytest.raises(ValueError, match="confidence"):
        newcombe_difference(1, 10, 1, 10, confidence=1.0)
    with pytest.raises(ValueError, match="confidence"):
        newcombe_difference(0, 0, 1, 10, confidence=0.0)


def test_a_higher_confidence_widens_the_interval() -> None:
    at_90 = newcombe_difference(30, 200, 12, 150, confidence=0.90)
    at_99 = newcombe_difference(30, 200, 12, 150, confidence=0.99)
    assert at_99.low < at_90.low and at_99.high > at_90.high


@st.composite
def two_groups(draw: st.DrawFn) -> tuple[int, int, int, int]:
    n1 = draw(st.integers(1, 5000))
    n2 = draw(st.integers(1, 5000))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


@given(two_groups())
def test_the_interval_holds_the_estimate_and_stays_within_minus_one_and_one(
    counts: tuple[int, int, int, int],
) -> None:
    found = newcombe_difference(*counts)
    assert found.estimate is not None
    assert -1.0 <= found.low <= found.estimate <= found.high <= 1.0


@given(two_groups(), st.integers(2, 20))
def test_the_interval_narrows_as_both_groups_grow_at_the_same_rates(
    counts: tuple[int, int, int, int], factor: int
) -> None:
    x1, n1, x2, n2 = counts
    small = newcombe_difference(x1, n1, x2, n2)
    large = newcombe_difference(x1 * factor, n1 * factor, x2 * factor, n2 * factor)
    assert large.estimate == pytest.approx(small.estimate)
    assert large.estimate is not None and small.estimate is not None
    # each side of the interval comes closer to the (same) estimate
    assert large.estimate - large.low <= small.estimate - small.low + 1e-12
    assert large.high - large.estimate <= small.high - small.estimate + 1e-12


def test_the_detectable_difference_matches_the_textbook_sample_size() -> None:
    # Fleiss's formula without continuity correction: 10% vs 15% needs 686 a group, 40% vs 50%
    # needs 388 (alpha 0.05 two-sided, power 0.8), so those sizes detect about those differences.
    assert minimal_detectable_difference(686, 686, 0.10) == pytest.approx(0.05, abs=3e-4)
    assert minimal_detectable_difference(388, 388, 0.40) == pytest.approx(0.10, abs=3e-4)


@given(
    st.integers(1, 100_000),
    st.integers(1, 100_000),
    st.floats(0.0, 0.95),
)
def test_the_detectable_difference_is_where_the_power_reaches_eighty_percent(
    n1: int, n2: int, base: float
) -> None:
    found = minimal_detectable_difference(n1, n2, base)
    if found is None:  # not even a lift to 100% is found 80% of the time
        assert power(1.0 - base, n1, n2, base) < 0.8
        return
    assert 0.0 < found <= 1.0 - base
    assert power(found, n1, n2, base) >= 0.8
    assert power(max(0.0, found - 1e-6), n1, n2, base) < 0.8 + 1e-6


# ten a group at a base near 50% cannot show even a lift to 100% (None): that is the test above
@given(st.integers(12, 20_000), st.floats(0.01, 0.5))
def test_larger_groups_detect_smaller_differences(n: int, base: float) -> None:
    small = minimal_detectable_difference(n, n, base)
    large = minimal_detectable_difference(4 * n, 4 * n, base)
    assert small is not None and large is not None
    assert large < small


def test_no_detectable_difference_without_both_groups_or_room_above_the_base() -> None:
    assert minimal_detectable_difference(0, 100, 0.1) is None
    assert minimal_detectable_difference(100, 0, 0.1) is None
    assert minimal_detectable_difference(100, 100, 1.0) is None
    # one contact a group cannot show anything at 80% power
    assert minimal_detectable_difference(1, 1, 0.0) is None


def test_a_true_lift_of_the_detectable_size_is_found_about_eighty_percent_of_the_time() -> None:
    # simulated experiments: the z-test finds the detectable lift with about the promised power
    rng = random.Random(8)
    n, base = 600, 0.10
    lift = minimal_detectable_difference(n, n, base)
    assert lift is not None
    trials, found = 1500, 0
    for _ in range(trials):
        x1 = sum(rng.random() < base + lift for _ in range(n))
        x2 = sum(rng.random() < base for _ in range(n))
        if newcombe_difference(x1, n, x2, n).low > 0:
            found += 1
    # Newcombe's interval and the z-test agree closely at these sizes; 1,500 runs: sd ~ 1 point
    assert 0.74 <= found / trials <= 0.86
