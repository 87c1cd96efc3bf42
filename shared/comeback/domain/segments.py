"""RFM segments: each buyer's recency, frequency and monetary quintile within its shop.

A daily job (`comeback.app.segments`) reads every buyer of a shop and stores the shop's quintile
cut points (`Segmentation`); a profile's scores are then a pure function of the profile, the cut
points and the time (`scores`), so nothing is written to a million profiles every day and a
contact is scored against its shop at the moment a recipe asks.

Scores go from 1 to 5 (5 the best fifth: most recent, most orders, most spent). Ties share the
lower score: in a shop where most buyers ordered once, all one-time buyers have F 1. The segment
names follow the usual recency x frequency grid marketers use (champions, loyal, at_risk,
cant_lose, hibernating, lost ...: the eleven of docs/recipes.md), so a playbook can say which
lapsed customers are worth a win-back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.profile import Profile, spent_in_main_currency

Segment = Literal[
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
]
SEGMENTS: tuple[str, ...] = get_args(Segment)
QUINTILES = 5
DAY_SECONDS = 86_400

# (recency score, frequency score) -> segment: the common RFM grid (every cell has one name)
_GRID: dict[tuple[int, int], str] = {}
for _r in range(1, 6):
    for _f in range(1, 6):
        if _r == 1 and _f == 1:
            name = "lost"  # the oldest fifth by recency, with the fewest orders
        elif _r <= 2:
            name = "hibernating" if _f <= 2 else "at_risk" if _f <= 4 else "cant_lose"
        elif _r == 3:
            name = "about_to_sleep" if _f <= 2 else "need_attention" if _f == 3 else "loyal"
        elif _f >= 4:
            name = "champions" if _r == 5 else "loyal"
        elif _f >= 2:
            name = "potential_loyalists"
        else:
            name = "new_customers" if _r == 5 else "promising"
        _GRID[(_r, _f)] = name

Cuts = Annotated[list[int], Field(min_length=QUINTILES - 1, max_length=QUINTILES - 1)]


class Segmentation(BaseModel):
    """A shop's quintile cut points, as the job last computed them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    computed_at: str
    buyers: Annotated[int, Field(ge=1)]
    # ascending values at the 20/40/60/80 % points of the shop's buyers
    recency_days: Cuts
    orders: Cuts
    spent_minor: Cuts


@dataclass(frozen=True)
class Buyer:
    """What the job reads of a buyer: no name, no address."""

    orders: int
    spent_minor: int
    last_order_at: datetime
    first_order_at: datetime | None = None  # for the predictions (None: an index item without it)


@dataclass(frozen=True)
class Scores:
    recency: int
    frequency: int
    monetary: int

    @property
    def segment(self) -> str:
        return _GRID[(self.recency, self.frequency)]


def buyer(
    orders: int,
    spent: dict[str, int],
    last_order_at: str | None,
    gone: bool,
    first_order_at: str | None = None,
) -> Buyer | None:
    """A buyer as the job counts one (None: no order yet, or erased or merged into another)."""
    if orders < 1 or not last_order_at or gone:
        return None
    first = parse_iso(first_order_at) if first_order_at else None
    return Buyer(orders, spent_in_main_currency(spent), parse_iso(last_order_at), first)


def buyer_of(profile: Profile) -> Buyer | None:
    gone = bool(profile.erased_at or profile.merged_into)
    return buyer(profile.orders_count, profile.spent, profile.last_order_at, gone, profile.first_order_at)


def _cuts(values: list[int]) -> list[int]:
    """The values at the 20, 40, 60 and 80 % points (nearest rank, lower side)."""
    ordered = sorted(values)
    n = len(ordered)
    return [ordered[max(0, -(-n * i // QUINTILES) - 1)] for i in range(1, QUINTILES)]


def days_since(at: datetime, now: datetime) -> int:
    return max(0, int((now - at).total_seconds() // DAY_SECONDS))


def segmentation(buyers: Iterable[Buyer], now: datetime) -> Segmentation | None:
    """The shop's cut points from all its buyers (None: no buyer yet, nothing to rank)."""
    recency: list[int] = []
    orders: list[int] = []
    spent: list[int] = []
    for buyer in buyers:
        recency.append(days_since(buyer.last_order_at, now))
        orders.append(buyer.orders)
        spent.append(buyer.spent_minor)
    if not orders:
        return None
    return Segmentation(
        computed_at=isoformat(now),
        buyers=len(orders),
        recency_days=_cuts(recency),
        orders=_cuts(orders),
        spent_minor=_cuts(spent),
    )


def _higher_is_better(value: int, cuts: list[int]) -> int:
    return 1 + sum(1 for cut in cuts if value > cut)


def scores(profile: Profile, cuts: Segmentation | None, now: datetime) -> Scores | None:
    """The profile's quintiles in its shop at `now` (None: not a buyer, or no segmentation yet)."""
    buyer = buyer_of(profile)
    if buyer is None or cuts is None:
        return None
    return scores_of(buyer, cuts, now)


def scores_of(buyer: Buyer, cuts: Segmentation, now: datetime) -> Scores:
    """A buyer's quintiles against its shop's cut points at `now`."""
    days = days_since(buyer.last_order_at, now)
    return Scores(
        recency=1 + sum(1 for cut in cuts.recency_days if days < cut),  # fewer days is better
        frequency=_higher_is_better(buyer.orders, cuts.orders),
        monetary=_higher_is_better(buyer.spent_minor, cuts.spent_minor),
    )
