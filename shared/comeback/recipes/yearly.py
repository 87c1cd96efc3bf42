"""Once a year on a contact's own day: what birthdays and sign-up anniversaries share.

A yearly recipe knows a day (its month and day come back every year) and asks for one email a
year (step 1, period the year) at `send_at` on that day, local time in the contact's timezone
(`customer.updated` `timezone`), else the shop's, with an optional reward (`offer`). 29 February
is 28 February in a common year.

Its state (`Profile.recipes[name]`) holds `year`, the last year celebrated (or passed unsent), so
the due time is a pure function of the profile: the moment of the year after it. The first year
considered is not one that was over before the contact was known (no email for a day we never
had the chance to mark). A sweep that comes more than `LATE` after the moment sends nothing for
that year (an email two days late is worse than none), and the years a sweep finds passed (a
contact known for years, sweeps that did not run) are passed at once, never sent as a burst.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from comeback.domain import pacing
from comeback.domain.clock import parse_iso, utc
from comeback.domain.messages import MessageRequest, Topic
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.recipes.base import Ask, Decision, Recipe, RecipeSettings, state_of

LATE = timedelta(hours=24)


class Yearly(RecipeSettings):
    # the local time the email is asked for (quiet hours still apply at send time)
    send_at: time = time(9, 0)
    # an optional reward, valid `valid_days` (a code in the email)
    offer: Offer | None = None


def day_in(day: date, year: int) -> date:
    """The day `day` falls on in `year`: 29 February is 28 February in a common year."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, day.month, day.day)


def zone_of(profile: Profile, playbook: Playbook) -> ZoneInfo:
    """The contact's timezone, else the shop's."""
    return pacing.zone(profile.field("timezone"), playbook.shop.timezone)


class YearlyRecipe(Recipe):
    """A recipe that emails once a year on the contact's `day`; its settings are a `Yearly`."""

    topic: ClassVar[Topic] = "rewards"
    priority: ClassVar[int] = 1

    # -- what each yearly recipe says ------------------------------------------------------------
    def day(self, profile: Profile, playbook: Playbook) -> date | None:
        """The contact's day (of any year); None: not known."""
        raise NotImplementedError

    def first_year(self, day: date) -> int:
        """The first year whose day may be celebrated."""
        return 1970

    def days_before(self, playbook: Playbook) -> int:
        """How many days before the day the email goes."""
        return 0

    def data(self, day: date, year: int) -> dict[str, Any]:
        """The message data of `year`'s email."""
        return {"year": year}

    # -- shared ----------------------------------------------------------------------------------
    def moment(self, profile: Profile, playbook: Playbook, year: int) -> datetime | None:
        """When `year`'s email is due, in UTC (None: no day known)."""
        day = self.day(profile, playbook)
        if day is None:
            return None
        local = day_in(day, year) - timedelta(days=self.days_before(playbook))
        return utc(datetime.combine(local, self.settings(playbook).send_at, zone_of(profile, playbook)))

    def next_year(self, profile: Profile, playbook: Playbook) -> tuple[int, datetime] | None:
        """The next year to celebrate and its moment: after the last one done (the state), not
        before `first_year`, and not one whose moment was over before the contact was known."""
        day = None if profile.erased_at or profile.merged_into else self.day(profile, playbook)
        if day is None:
            return None
        known = parse_iso(profile.first_seen_at) if profile.first_seen_at else None
        done = state_of(profile, self.name).get("year")
        first = self.first_year(day)
        year = max(int(done) + 1 if done is not None else first, first, known.year if known else first)
        due = self.moment(profile, playbook, year)
        if due is not None and known is not None and due < known:
            year += 1
            due = self.moment(profile, playbook, year)
        return None if due is None else (year, due)

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        found = self.next_year(profile, playbook)
        return found[1] if found else None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        found = self.next_year(profile, playbook)
        day = self.day(profile, playbook)
        if found is None or found[1] > now or day is None:
            return Decision()
        year, due = found
        while (following := self.moment(profile, playbook, year + 1)) is not None and following <= now:
            year, due = year + 1, following
        state = {**state_of(profile, self.name), "year": year}
        if now - due > LATE:
            return Decision(state=state, skipped=("stale",))
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=self.name,
            step=1,
            period=str(year),
            requested_at=now,
            # an email asked for ahead of the day is still wanted on the day, not after
            not_after=due + timedelta(days=self.days_before(playbook) + 1),
            data=self.data(day, year),
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message, self.settings(playbook).offer),))
