"""Birthdays: an email on the day (campaign `birthday`), with an optional reward, once a year.

The day is the contact's own: at `send_at` in its timezone (`customer.updated` `timezone`), else the
shop's. A birthday on 29 February is celebrated on 28 February in common years. A birthday sent
without a year (`--05-14`) is the same day every year.

The due time is a pure function of the profile: the next birthday after the last year celebrated
(the state), so a changed birthday or timezone moves it at the next write. A sweep that comes more
than `LATE` after the moment (it did not run; the birthday was set the day after) sends nothing
for that year: a birthday email two days late is worse than none; the next year's is due next.

State (`Profile.recipes["birthday"]`): `year`, the last year whose birthday was celebrated (or
passed unsent).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Annotated, ClassVar

from pydantic import Field

from comeback.domain import pacing
from comeback.domain.clock import parse_iso, utc
from comeback.domain.events import CustomerUpdated, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, state_of

NAME = "birthday"
LATE = timedelta(hours=24)


class Birthday(RecipeSettings):
    # the local time the email is asked for (quiet hours still apply at send time)
    send_at: time = time(9, 0)
    # an optional reward, valid `valid_days` (a code in the email)
    offer: Offer | None = None
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


def day_in(born: date, year: int) -> date:
    """The day a birthday falls on in `year`: 29 February is 28 February in a common year."""
    if born.month == 2 and born.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, born.month, born.day)


def moment(profile: Profile, playbook: Playbook, year: int) -> datetime | None:
    """When `year`'s birthday email is due, in UTC (None: no birthday known)."""
    born = birthday_of(profile)
    if born is None:
        return None
    rules = settings(playbook)
    tz = pacing.zone(profile.field("timezone"), playbook.shop.timezone)
    local = datetime.combine(day_in(born, year) - timedelta(days=rules.days_before), rules.send_at, tz)
    return utc(local)


class BirthdayRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "rewards"
    priority = 1
    section_key = NAME
    settings_model = Birthday

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, CustomerUpdated) and (event.data.birthday or event.data.timezone):
            return None  # the due time moves with the birthday or the timezone: the slow path recomputes
        return FastEffect()

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into or birthday_of(profile) is None:
            return None
        state = state_of(profile, NAME)
        # the first year considered: after the last one celebrated, not before the contact was known
        known = parse_iso(profile.first_seen_at) if profile.first_seen_at else None
        seen = known.year if known else 1970
        year = max(int(state.get("year", seen - 1)) + 1, seen)
        due = moment(profile, playbook, year)
        if due is not None and known is not None and due < known:
            return moment(profile, playbook, year + 1)  # this year's was over before we knew them
        return due

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        due = self.next_due(profile, playbook)
        if due is None or due > now:
            return Decision()
        year = due.year if settings(playbook).days_before == 0 else _year_of(profile, playbook, due)
        # every past year up to now is passed at once: a contact known for years is not celebrated
        # for each of them
        while True:
            following = moment(profile, playbook, year + 1)
            if following is None or following > now:
                break
            year += 1
            due = following
        state = {"year": year}
        if now - due > LATE:
            return Decision(state=state, skipped=("stale",))
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        rules = settings(playbook)
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=str(year),
            requested_at=now,
            not_after=due + timedelta(days=rules.days_before + 1),
            data={"year": year},
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message, rules.offer),))


def _year_of(profile: Profile, playbook: Playbook, due: datetime) -> int:
    """The birthday year a moment `days_before` the day belongs to (it may fall in the year before)."""
    for year in (due.year, due.year + 1):
        if moment(profile, playbook, year) == due:
            return year
    return due.year


RECIPE = BirthdayRecipe()
