"""A shop's fitted prediction model: the BG/NBD and Gamma-Gamma parameters, in the open.

This module holds only the typed, JSON-able parameters (no numpy), so the playbook can carry them
to every function without importing the maths; `comeback.domain.predictions` fits and scores.

Time is in **days** throughout (`alpha` is a number of days; `r / alpha` is the population's mean
order rate per day). Spend (`v`) is in minor units of `currency`, the shop's main currency.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# A shop's predictions are on from this many customers with a repeat purchase and this much
# history, marked low-confidence under `NORMAL_CONFIDENCE_REPEATERS` (issue 11).
MIN_REPEAT_CUSTOMERS = 200
MIN_HISTORY_DAYS = 90
NORMAL_CONFIDENCE_REPEATERS = 500
# Below this many repeat customers nothing is fitted at all (a rate from a handful is noise); from
# it up to `MIN_REPEAT_CUSTOMERS` the model is fitted and shown in the report, but not used.
MIN_REPEATERS_TO_FIT = 20

Confidence = Literal["low", "normal"]
Positive = Annotated[float, Field(gt=0)]


class HistogramBin(BaseModel):
    """Customers with this many repeat purchases in their own history: seen, and as the model expects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeats: str  # "0" .. "6", "7+"
    actual: int
    expected: float


class FitQuality(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    histogram: list[HistogramBin]
    # mean over the bins of |expected - actual| customers, and that as a share of all customers
    histogram_mae: float
    histogram_mae_share: float


class FittedModel(BaseModel):
    """What the daily job fitted for a shop (`PREDICTIONS` item of the shop)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_unit: Literal["days"] = "days"
    # BG/NBD: order rate ~ Gamma(r, alpha); dropout after each order ~ Beta(a, b)
    r: Positive
    alpha: Positive
    a: Positive
    b: Positive
    # Gamma-Gamma: average order value; None when the shop has no repeat buyer with spend
    p: Positive | None = None
    q: Positive | None = None
    v: Positive | None = None
    currency: str | None = None
    customers: int
    repeat_customers: int
    history_days: float
    fitted_at: str
    log_likelihood: float
    spend_log_likelihood: float | None = None
    quality: FitQuality
    confidence: Confidence
    # whether the shop has enough history for its predictions to be shown and used
    qualifies: bool

    @property
    def mean_order_value(self) -> float | None:
        """The population's mean average order value, E[Z] = p v / (q - 1) (None: no spend model)."""
        if self.p is None or self.q is None or self.v is None or self.q <= 1:
            return None
        return self.p * self.v / (self.q - 1)


def qualification(repeat_customers: int, history_days: float) -> tuple[bool, Confidence]:
    qualifies = repeat_customers >= MIN_REPEAT_CUSTOMERS and history_days >= MIN_HISTORY_DAYS
    return qualifies, "normal" if repeat_customers >= NORMAL_CONFIDENCE_REPEATERS else "low"
