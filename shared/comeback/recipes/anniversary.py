"""Sign-up anniversaries: an email a year after the contact joined (campaign `anniversary`), with an
optional reward, once a year.

The day is the contact's sign-up date (`customer.updated` `signed_up_at`), else the date of its
first order, as a date in the contact's timezone (`timezone`, else the shop's). The first
anniversary is one year after it (never "year 0"); the email carries `years`. It is asked for at
`send_at` local time on the day; 29 February is 28 February in common years. The yearly logic is
`comeback.recipes.yearly`'s, shared with birthdays: a sweep more than `LATE` after the moment sends
nothing for that year, and a contact known for years gets the current year's email only (if due
within `LATE`), never a burst of the past ones.

What an event means to it: the state records what the anniversary is of (`basis`): `signup`
with the `signed_up_at` it saw, or `order` with the first order's time, written on the slow path.
A `signed_up_at` other than the one recorded, or a timezone, moves the day: the slow path
recomputes; the same one again (platforms send it with every customer update) keeps the due time
on the fast path. Whether an order is the first one only the state knows: until it records a
basis, an order goes the slow path; later orders keep the due time on the fast path. The first
order's time is the state's once recorded, so an older order that arrives late on the fast path
leaves the due time what the profile says (the next slow path moves it to the older order).

State (`Profile.recipes["anniversary"]`): `year`, the last year celebrated (or passed unsent);
`basis` (`signup` / `order`) and its `signed_up_at` / `first_order_at`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import CustomerUpdated, OrderPlaced, ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.recipes.base import KEEP, Decision, FastEffect, state_of
from comeback.recipes.yearly import Yearly, YearlyRecipe, zone_of

NAME = "anniversary"
BASES = ("signup", "order")


class Anniversary(Yearly):
    """The playbook section `anniversary`: `send_at` and an optional `offer`, as birthdays have."""


def _instant(value: Any) -> datetime | None:
    try:
        return parse_iso(value) if isinstance(value, str) else None
    except ValueError:
        return None


def since(profile: Profile, playbook: Playbook) -> date | None:
    """The day the anniversary is of, in the contact's timezone: its sign-up, else its first order
    (the one the state recorded, else the profile's). None: neither is known."""
    joined = _instant(profile.field("signed_up_at"))
    if joined is None:
        joined = _instant(state_of(profile, NAME).get("first_order_at") or profile.first_order_at)
    return joined.astimezone(zone_of(profile, playbook)).date() if joined else None


def recorded(profile: Profile) -> dict[str, Any]:
    """The state recording what the anniversary is of (what the fast path relies on)."""
    state = state_of(profile, NAME)
    kept = {"year": state["year"]} if "year" in state else {}
    joined = _instant(profile.field("signed_up_at"))
    if joined is not None:
        return {**kept, "basis": "signup", "signed_up_at": isoformat(joined)}
    if profile.first_order_at:
        first = min(filter(None, (state.get("first_order_at"), profile.first_order_at)))
        return {**kept, "basis": "order", "first_order_at": first}
    return state


class AnniversaryRecipe(YearlyRecipe):
    name: ClassVar[str] = NAME
    section_key = NAME
    settings_model = Anniversary

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, CustomerUpdated) and event.data.timezone:
            return None  # the day moves with the timezone: the slow path recomputes
        if isinstance(event, CustomerUpdated) and event.data.signed_up_at:
            # the sign-up date recorded again changes nothing; another one moves the day (slow path)
            return FastEffect(due=KEEP, requires={"signed_up_at": (isoformat(event.data.signed_up_at),)})
        if isinstance(event, OrderPlaced):
            # a later order leaves the day as it is; whether this one is the first, only the state knows
            return FastEffect(due=KEEP, requires={"basis": BASES})
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        effect = self.fast(event, playbook)
        if effect is not None and not effect.requires:
            return Decision()  # what the fast path does: the two paths must agree
        # where the stored state is the one the fast answer requires, this changes nothing either
        state = recorded(after)
        return Decision() if state == state_of(after, NAME) else Decision(state=state)

    def day(self, profile: Profile, playbook: Playbook) -> date | None:
        return since(profile, playbook)

    def first_year(self, day: date) -> int:
        return day.year + 1  # the first anniversary, never "year 0"

    def data(self, day: date, year: int) -> dict[str, Any]:
        return {"year": year, "years": year - day.year}


RECIPE = AnniversaryRecipe()
