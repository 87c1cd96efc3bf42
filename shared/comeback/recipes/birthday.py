"""Birthdays: an email on the day (campaign `birthday`), with an optional reward, once a year.

The day is the contact's own: at `send_at` in its timezone (`customer.updated` `timezone`), else the
shop's. A birthday on 29 February is celebrated on 28 February in common years. A birthday sent
without a year (`--05-14`) is the same day every year.

The due time is a pure function of the profile: the next birthday after the last year celebrated
(the state), so a changed birthday or timezone moves it at the next write. A sweep that comes more
than `LATE` after the moment (it did not run; the birthday was set the day after) sends nothing
for that year: a birthday email two days late is worse than none; the next year's is due next.
The yearly logic is `comeback.recipes.yearly`'s, shared with sign-up anniversaries (`LATE` there).

State (`Profile.recipes["birthday"]`): `year`, the last year whose birthday was celebrated (or
passed unsent).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import Field

from comeback.domain.events import CustomerUpdated, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.recipes.base import FastEffect, state_of
from comeback.recipes.yearly import Yearly, YearlyRecipe

NAME = "birthday"


class Birthday(Yearly):
    # the email goes this many days before the day (0: on the day)
    days_before: Annotated[int, Field(ge=0, le=30)] = 0


def settings(playbook: Playbook) -> Birthday:
    section = playbook.section(NAME)
    assert isinstance(section, Birthday)
    return section


def birthday_of(profile: Profile) -> date | None:
    value = profile.field("birthday")
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class BirthdayRecipe(YearlyRecipe):
    name: ClassVar[str] = NAME
    section_key = NAME
    settings_model = Birthday

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, CustomerUpdated) and (event.data.birthday or event.data.timezone):
            return None  # the due time moves with the birthday or the timezone: the slow path recomputes
        return FastEffect()

    def day(self, profile: Profile, playbook: Playbook) -> date | None:
        return birthday_of(profile)

    def days_before(self, playbook: Playbook) -> int:
        return settings(playbook).days_before

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        # the loyalty recipe gives its birthday points at this email's moment: the email says so
        loyalty = playbook.section("loyalty")
        facts = state_of(profile, "loyalty").get("facts", {})
        member = loyalty.enrolment == "automatic" or any(c.startswith("j:") for c in facts)
        points = loyalty.bonus.birthday if loyalty.enabled and member else 0
        return {**super().context(profile, request, playbook), "birthday_points": points}


RECIPE = BirthdayRecipe()
