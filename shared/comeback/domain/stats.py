"""Two proportions compared honestly: the lift of a treated group over a holdout.

The interval is Newcombe's hybrid score interval (method 10 of R. G. Newcombe, "Interval
estimation for the difference between independent proportions: comparison of eleven methods",
Statistics in Medicine 17, 1998, 873-890): each group's Wilson score interval, combined by the
square root of the summed squared distances. Unlike the textbook Wald interval it keeps its
coverage near 0% and 100% and with small groups, which is where a retention campaign lives (a few
percent reactivate). It never leaves [-1, 1] and needs no iteration.

The smallest detectable difference answers the marketer's other question, "could this test have
seen a lift if there was one?": the smallest true lift a two-sided z-test (pooled variance under
the null, as in Fleiss's sample-size formula) would find with the given power at the given sizes.

Edge cases answer rather than raise: no successes, all successes, and an empty group each have a
defined result. Only impossible counts (negative, more successes than trials) are errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}")
    return _NORMAL.inv_cdf(0.5 + confidence / 2)


def _check(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"impossible counts: {successes} successes out of {trials}")


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of one proportion; [0, 1] when nothing was observed."""
    _check(successes, trials)
    z = _z(confidence)
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # at 0 and at all successes the bound is exactly the observed rate (rounding aside)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Difference:
    """p1 - p2 and its interval. `estimate` is None when a group is empty (then the interval is
    [-1, 1]: the data say nothing)."""

    estimate: float | None
    low: float
    high: float
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly on one side of no difference."""
        return self.estimate is not None and (self.low > 0 or self.high < 0)


def newcombe_difference(
    successes1: int, trials1: int, successes2: int, trials2: int, confidence: float = 0.95
) -> Difference:
    """The difference of two independent proportions with Newcombe's hybrid score interval."""
    _check(successes1, trials1)
    _check(successes2, trials2)
    if trials1 == 0 or trials2 == 0:
        _z(confidence)  # a bad confidence is still an error
        return Difference(None, -1.0, 1.0, confidence)
    p1, p2 = successes1 / trials1, successes2 / trials2
    l1, u1 = wilson(successes1, trials1, confidence)
    l2, u2 = wilson(successes2, trials2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(d, max(-1.0, low), min(1.0, high), confidence)


def power(difference: float, trials1: int, trials2: int, base_rate: float, alpha: float = 0.05) -> float:
    """The chance a two-sided z-test at `alpha` finds a true `difference` over `base_rate`
    (group 1 at base_rate + difference, group 2 at base_rate; the far tail is ignored)."""
    if trials1 <= 0 or trials2 <= 0:
        return 0.0
    p2 = base_rate
    p1 = base_rate + difference
    if not (0.0 <= p2 <= 1.0 and 0.0 <= p1 <= 1.0):
        raise ValueError(f"rates must lie in [0, 1]: {p1} and {p2}")
    z_alpha = _NORMAL.inv_cdf(1 - alpha / 2)
    pooled = (trials1 * p1 + trials2 * p2) / (trials1 + trials2)
    null_sd = math.sqrt(pooled * (1 - pooled) * (1 / trials1 + 1 / trials2))
    true_sd = math.sqrt(p1 * (1 - p1) / trials1 + p2 * (1 - p2) / trials2)
    margin = abs(difference) - z_alpha * null_sd
    if true_sd == 0.0:  # both rates certain: the test sees the difference or cannot
        return 1.0 if margin > 0 else 0.0
    return _NORMAL.cdf(margin / true_sd)


def minimal_detectable_difference(
    trials1: int, trials2: int, base_rate: float, alpha: float = 0.05, wanted_power: float = 0.8
) -> float | None:
    """The smallest lift over `base_rate` found with `wanted_power` by a two-sided test at `alpha`.

    None when a group is empty or when even the largest possible lift (to 100%) would not be found
    that often: the sizes cannot tell.
    """
    if not 0.0 <= base_rate <= 1.0:
        raise ValueError(f"base rate must lie in [0, 1], got {base_rate}")
    if not 0.0 < wanted_power < 1.0 or not 0.0 < alpha < 1.0:
        raise ValueError("alpha and power must be between 0 and 1 (exclusive)")
    if trials1 <= 0 or trials2 <= 0:
        return None
    largest = 1.0 - base_rate
    if largest <= 0.0 or power(largest, trials1, trials2, base_rate, alpha) < wanted_power:
        return None
    # power grows with the difference: bisect for where it reaches the wanted power
    low, high = 0.0, largest
    for _ in range(60):
        middle = (low + high) / 2
        if power(middle, trials1, trials2, base_rate, alpha) >= wanted_power:
            high = middle
        else:
            low = middle
    return high
