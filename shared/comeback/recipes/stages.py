"""Lifecycle stages: where each contact stands, every change recorded and announced.

`new` (nothing done yet), `active`, `engaged` (active, and clicked, opened or browsed within
`engaged_days`), `at_risk`, `lapsed` and `lost` (by days since the last activity, or `lost` once a
win-back drip ended in sunset), and `won_back`: the contact ordered within the attribution window of
a win-back email after lapsing, and stays won back until it lapses again.

The stage is stored (this recipe's state), so that a change is a fact: written to the contact's
activity and published on the bus as `contact.stage_changed` once. Time moves a contact from
active to at risk with no event at all, so the recipe asks to be woken at the next threshold.

Engagement that ages out is noticed when the contact is next looked at (its next threshold, or any
event the contacts function reads it for), not at the hour it ends: an `engaged` contact that stops
engaging is announced as `at_risk` directly. The thresholds shops act on are never late.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, ClassVar, cast

from pydantic import Field, model_validator

from comeback.domain import notices
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.recipes.base import (
    KEEP,
    Decision,
    FastEffect,
    Note,
    Notice,
    Recipe,
    RecipeSettings,
    state_of,
)

STAGES = ("new", "active", "engaged", "at_risk", "lapsed", "lost", "won_back")
ENGAGEMENT_TYPES = frozenset({"product.viewed", "site.visited"})
# Stages an order keeps as they are (the contact is already in an active stage).
ACTIVE_STAGES = ("active", "engaged", "won_back")


class Lifecycle(RecipeSettings):
    at_risk_days: Annotated[int, Field(gt=0, le=3650)] = 60
    lapsed_days: Annotated[int, Field(gt=0, le=3650)] = 90
    lost_days: Annotated[int, Field(gt=0, le=3650)] = 365
    engaged_days: Annotated[int, Field(gt=0, le=365)] = 30

    @model_validator(mode="after")
    def _ordered(self) -> Lifecycle:
        if not self.engaged_days < self.at_risk_days < self.lapsed_days < self.lost_days:
            raise ValueError("lifecycle days must grow: engaged < at_risk < lapsed < lost")
        return self


def settings(playbook: Playbook) -> Lifecycle:
    section = playbook.section("lifecycle")
    assert isinstance(section, Lifecycle)
    return section


def stored_stage(profile: Profile) -> str | None:
    stage = state_of(profile, "lifecycle").get("stage")
    return str(stage) if stage else None


def by_time(profile: Profile, cycle: Lifecycle, now: datetime) -> str | None:
    """The stage days without activity impose (None while the contact is in an active stage)."""
    if not profile.last_activity_at:
        return "new"
    if _sunset(profile):
        return "lost"
    days = (now - parse_iso(profile.last_activity_at)).days
    if days >= cycle.lost_days:
        return "lost"
    if days >= cycle.lapsed_days:
        return "lapsed"
    if days >= cycle.at_risk_days:
        return "at_risk"
    return None


def engaged(profile: Profile, cycle: Lifecycle, now: datetime) -> bool:
    moments = [profile.last_engaged_at, profile.last_viewed["at"] if profile.last_viewed else None]
    latest = max((m for m in moments if m), default=None)
    return bool(latest and now - parse_iso(latest) < timedelta(days=cycle.engaged_days))


def current(profile: Profile, playbook: Playbook, now: datetime) -> str:
    """The contact's stage now, from the profile and the stage stored at the last look."""
    cycle = settings(playbook)
    timed = by_time(profile, cycle, now)
    if timed:
        return timed
    if stored_stage(profile) == "won_back":
        return "won_back"
    return "engaged" if engaged(profile, cycle, now) else "active"


def won_back_by(profile: Profile, playbook: Playbook) -> str | None:
    """The win-back ask the contact's latest order answers (its time), if it came within the window."""
    from comeback.recipes import winback  # the one recipe whose state says who was won back

    return winback.answered_ask(profile, playbook)


def _sunset(profile: Profile) -> bool:
    from comeback.recipes import winback

    return winback.sunset(profile)


class Stages(Recipe):
    name: ClassVar[str] = "lifecycle"
    topic = "news"  # never sends; a recipe still names one
    priority = 9
    section_key = "lifecycle"
    settings_model = Lifecycle

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        cycle = settings(playbook)
        if not event.is_activity:
            return FastEffect(due=KEEP)
        allowed = ("engaged",) if event.type in ENGAGEMENT_TYPES else ACTIVE_STAGES
        # Another stored stage means this event changes the stage: the slow path announces it.
        return FastEffect(
            due=event.occurred_at + timedelta(days=cycle.at_risk_days), requires={"stage": allowed}
        )

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into or not profile.last_activity_at:
            return None
        cycle = settings(playbook)
        last = parse_iso(profile.last_activity_at)
        stage = stored_stage(profile)
        if stage == "lost":
            return None
        if _sunset(profile):
            # the win-back drip ended in a sunset: the contact is lost now, not once lost_days passed
            sunset_at = state_of(profile, "winback").get("sunset_at")
            return parse_iso(sunset_at) if sunset_at else last
        passed = {"at_risk": 1, "lapsed": 2}.get(stage or "", 0)
        thresholds = (cycle.at_risk_days, cycle.lapsed_days, cycle.lost_days)[passed:]
        return last + timedelta(days=thresholds[0])

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        previous = stored_stage(after)
        effect = self.fast(event, playbook)
        allowed = effect.requires.get("stage") if effect else None
        if not event.is_activity or (allowed and previous in allowed):
            return Decision()  # what the fast path does: the two paths must agree
        stage = current(after, playbook, now)
        if event.type == "order.placed" and won_back_by(after, playbook):
            stage = "won_back"
        return self._move(after, previous, stage, now, _reason(stage, playbook))

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        previous = stored_stage(profile)
        stage = current(profile, playbook, now)
        decision = self._move(profile, previous, stage, now, _reason(stage, playbook))
        if decision.state is None:
            # nothing changed (woken early): record the look so next_due moves on
            return Decision(state={**state_of(profile, "lifecycle"), "checked_at": isoformat(now)})
        return decision

    def _move(
        self, profile: Profile, previous: str | None, stage: str, now: datetime, reason: str
    ) -> Decision:
        if stage == previous:
            return Decision()
        at = isoformat(now)
        # the published form (docs/events.md), validated; its id is the same for the same change
        notice = notices.stage_changed(
            profile.shop_id,
            profile.contact_id,
            profile.customer_id,
            cast("notices.Stage | None", previous),
            cast("notices.Stage", stage),
            now,
            reason,
        )
        detail = notice.detail()
        return Decision(
            state={"stage": stage, "since": at, "checked_at": at},
            notices=(Notice("contact.stage_changed", detail),),
            notes=(Note("contact.stage_changed", at, {"from": previous, "to": stage, "reason": reason}),),
        )


def _reason(stage: str, playbook: Playbook) -> str:
    cycle = settings(playbook)
    return {
        "new": "no activity yet",
        "active": "active within the last days",
        "engaged": f"clicked, opened or browsed within {cycle.engaged_days} days",
        "at_risk": f"no activity for {cycle.at_risk_days} days",
        "lapsed": f"no activity for {cycle.lapsed_days} days",
        "lost": f"no activity for {cycle.lost_days} days, or the win-back drip ended",
        "won_back": "ordered within the attribution window of a win-back email",
    }[stage]


RECIPE = Stages()
