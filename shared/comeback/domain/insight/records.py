"""What the insight reports read of one customer, and the month arithmetic they share.

A `CustomerRecord` is the part of a profile the buyers index carries (comeback.aws.keys): lifetime
orders and spend, first and last order, the order history by UTC month and the first order's code
and channel. The reports are pure functions of a shop's records, so the same code serves the
store's records and a test's hand-made shop.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from comeback.domain.profile import Profile

Month = str  # "YYYY-MM", in UTC, as `Profile.order_months` keys are


@dataclass(frozen=True)
class CustomerRecord:
    """One buyer of a shop, as the reports see it (no name, no address)."""

    contact_id: str
    orders: int  # lifetime, also months the profile no longer keeps
    spent: dict[str, int]  # lifetime, currency -> minor units, net of refunds
    first_order_at: str | None
    last_order_at: str | None
    order_months: dict[Month, int] = field(default_factory=dict)
    spent_months: dict[str, int] = field(default_factory=dict)  # "YYYY-MM|CUR" -> minor units
    first_code: str | None = None  # the first order's first discount code (upper case)
    first_channel: str | None = None  # the first order's sales channel (lower case)
    origin_known: bool = False  # whether the first order's code and channel were recorded at all

    @property
    def first_month(self) -> Month | None:
        return self.first_order_at[:7] if self.first_order_at else None

    def orders_in(self, month: Month) -> int:
        return self.order_months.get(month, 0)

    def spent_in(self, month: Month, currency: str) -> int:
        return self.spent_months.get(f"{month}|{currency}", 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "orders": self.orders,
            "spent": dict(self.spent),
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
            "order_months": dict(sorted(self.order_months.items())),
            "spent_months": dict(sorted(self.spent_months.items())),
            "first_code": self.first_code,
            "first_channel": self.first_channel,
            "origin_known": self.origin_known,
        }


def record(
    contact_id: str,
    orders: int,
    spent: dict[str, int],
    first_order_at: str | None,
    last_order_at: str | None,
    order_months: dict[str, int],
    spent_months: dict[str, int],
    first_order: dict[str, Any] | None,
) -> CustomerRecord | None:
    """A buyer's record from the profile's attributes (None: no order yet)."""
    if orders < 1 or not first_order_at:
        return None
    origin = (first_order or {}).get("v") or {}
    return CustomerRecord(
        contact_id=contact_id,
        orders=orders,
        spent=spent,
        first_order_at=first_order_at,
        last_order_at=last_order_at,
        order_months=order_months,
        spent_months=spent_months,
        first_code=origin.get("code"),
        first_channel=origin.get("channel"),
        origin_known=first_order is not None,
    )


def record_of(profile: Profile) -> CustomerRecord | None:
    """The record of a profile (None: not a buyer, or erased, or merged into another contact)."""
    if profile.erased_at or profile.merged_into:
        return None
    return record(
        profile.contact_id,
        profile.orders_count,
        dict(profile.spent),
        profile.first_order_at,
        profile.last_order_at,
        dict(profile.order_months),
        dict(profile.spent_months),
        profile.first_order,
    )


def shop_currency(records: Iterable[CustomerRecord]) -> str | None:
    """The currency the shop's customers spend most in: the one its money figures are in."""
    totals: dict[str, int] = {}
    for r in records:
        for currency, minor in r.spent.items():
            totals[currency] = totals.get(currency, 0) + max(0, minor)
    return max(totals, key=lambda c: (totals[c], c)) if totals else None


def month_number(month: Month) -> int:
    """Months since year 0: "2026-03" -> 2026 * 12 + 2 (so that months subtract)."""
    return int(month[:4]) * 12 + int(month[5:7]) - 1


def month_of(number: int) -> Month:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def shift(month: Month, months: int) -> Month:
    return month_of(month_number(month) + months)


def months(since: Month, until: Month) -> Iterator[Month]:
    """Every month from `since` to `until`, both included."""
    for number in range(month_number(since), month_number(until) + 1):
        yield month_of(number)


def ratio(part: float, whole: float) -> float | None:
    """part / whole, None when there is nothing to divide by (a rate of an empty group)."""
    return part / whole if whole else None
