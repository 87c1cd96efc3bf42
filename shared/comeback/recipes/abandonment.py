"""What cart and browse abandonment share: reminders a few hours after a moment, until an order.

A recipe of this kind names its **basis**, the moment its reminders count from (the last cart
change, the last product view), as a pure function of the profile. Its steps come `after_hours`
after the basis; an order at or after the basis ends them, and a newer basis starts them again
(a later cart change restarts the timing). Because the basis of a newest event is the event's
own time, the due time after it is `occurred_at + steps[0].after_hours`: the contacts function
moves it in its one write, with no read (`fast`).

When several steps came due at once (a sweep that did not run, a backfilled history), only the
latest is taken, and a step is stale once the next one is due (the last one `LATE` after its
time): nobody gets a reminder about a cart of last month. A message is keyed by (campaign, step,
basis), so each step of each basis is emailed at most once whatever is redelivered or reordered.

State (`Profile.recipes[name]`): the `basis` it answers, steps taken (`sent`), `asked_at`,
`holdout`, and what the recipe keeps of its own (browse: the product it last reminded of).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import CustomerDeleted, OrderPlaced, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.money import MoneyError, to_minor
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, in_holdout, state_of

# How long the last step may still go out after its time.
LATE = timedelta(hours=24)


class Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after_hours: Annotated[float, Field(gt=0, le=24 * 60)]
    offer: Offer | None = None


class AbandonmentSettings(RecipeSettings):
    steps: Annotated[list[Reminder], Field(min_length=1, max_length=5)]
    # this share of the audience gets no email (recorded as skipped: holdout), to measure the lift
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 0

    @model_validator(mode="after")
    def _ordered(self) -> AbandonmentSettings:
        hours = [s.after_hours for s in self.steps]
        if hours != sorted(set(hours)):
            raise ValueError("steps must be in strictly growing after_hours order")
        return self


def minor_units(amount: Any, currency: str) -> int | None:
    """A price as a summary keeps it (the shop's decimal text) in minor units; None if it does not fit."""
    try:
        return to_minor(Decimal(str(amount)), currency)
    except (InvalidOperation, MoneyError, ValueError):
        return None


def ordered_since(profile: Profile, basis: str) -> bool:
    return bool(profile.last_order_at and profile.last_order_at >= basis)


class Abandonment(Recipe):
    """The shared drip; a subclass says what its basis is and what its message shows."""

    topic = "recommendations"
    priority = 2
    reads: ClassVar[tuple[str, ...]] = ("last_order_at", "last_cart", "last_viewed")
    superseded = "superseded"  # still_wanted's answer when the basis moved since the message was asked

    # -- what a subclass answers -----------------------------------------------------------------
    def basis(self, profile: Profile, playbook: Playbook) -> str | None:
        """The moment the reminders count from (None: nothing to remind of)."""
        raise NotImplementedError

    def starts(self, event: ShopEvent) -> bool | None:
        """Whether an event (the newest the contact has seen) starts the reminders at its time
        (True), ends them (False), or leaves them as they are (None)."""
        raise NotImplementedError

    def content(
        self, profile: Profile, playbook: Playbook, step: int, now: datetime
    ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any]]:
        """The message's data (None: no message), why not (a skip reason for the report, or None
        to pass silently), and what to keep in the state."""
        raise NotImplementedError

    # -- the interface ---------------------------------------------------------------------------
    def rules(self, playbook: Playbook) -> AbandonmentSettings:
        section = self.settings(playbook)
        assert isinstance(section, AbandonmentSettings)
        return section

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced | CustomerDeleted):
            return FastEffect(due=None)  # an order ends the reminders (an erasure, everything)
        starts = self.starts(event)
        if starts is None:
            return FastEffect()
        if not starts:
            return FastEffect(due=None)
        return FastEffect(due=event.occurred_at + timedelta(hours=self.rules(playbook).steps[0].after_hours))

    def steps_taken(self, profile: Profile, basis: str) -> int:
        state = state_of(profile, self.name)
        return int(state.get("sent", 0)) if state.get("basis") == basis else 0

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        basis = self.basis(profile, playbook)
        if basis is None or ordered_since(profile, basis):
            return None
        steps = self.rules(playbook).steps
        taken = self.steps_taken(profile, basis)
        if taken >= len(steps):
            return None
        return parse_iso(basis) + timedelta(hours=steps[taken].after_hours)

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        basis = self.basis(profile, playbook)
        if basis is None or ordered_since(profile, basis) or profile.erased_at or profile.merged_into:
            return Decision()
        rules = self.rules(playbook)
        started = parse_iso(basis)
        taken = self.steps_taken(profile, basis)
        step = taken
        while step < len(rules.steps) and started + timedelta(hours=rules.steps[step].after_hours) <= now:
            step += 1
        if step == taken:
            return Decision()  # woken early: nothing is due yet
        previous = state_of(profile, self.name)
        kept = {k: v for k, v in previous.items() if k not in ("basis", "sent", "asked_at", "holdout")}
        state: dict[str, Any] = {**kept, "basis": basis, "sent": step}
        # a step is stale once the next one is due; the last one LATE after its own time
        if step < len(rules.steps):
            not_after = started + timedelta(hours=rules.steps[step].after_hours)
        else:
            not_after = started + timedelta(hours=rules.steps[-1].after_hours) + LATE
        if now > not_after:
            return Decision(state=state, skipped=("stale",))
        data, why_not, keep = self.content(profile, playbook, step, now)
        state.update(keep)
        if data is None:
            return Decision(state=state, skipped=(why_not,) if why_not else ())
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        holdout = in_holdout(profile.shop_id, profile.contact_id, basis, self.name, rules.holdout_percent)
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=self.name,
            step=step,
            period=basis,
            requested_at=now,
            not_after=not_after,
            basis=basis,
            data={**data, "last_step": step == len(rules.steps)},
            holdout=holdout,
            topic_of=self.topic,
            priority_of=self.priority,
        )
        state.update({"asked_at": isoformat(now), "holdout": holdout})
        offer = None if holdout else rules.steps[step - 1].offer
        return Decision(state=state, asks=(Ask(message, offer),))

    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        if request.basis and ordered_since(profile, request.basis):
            return "ordered"  # an order after the moment reminded of: nothing left to remind
        if self.basis(profile, playbook) != request.basis:
            return self.superseded
        return None
