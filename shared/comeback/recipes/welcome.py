"""Welcome: a short series for new subscribers and first-time buyers (campaign `welcome`).

Two tracks, one series per contact, ever:

- **subscriber**: starts when a contact first says yes to marketing (`customer.updated` with
  `accepts_marketing: true`, the contact never having consented before); it stops at the
  contact's next order (for a subscriber who has not bought, the first);
- **buyer**: starts at a contact's first order (`orders_count` 1, whether or not it consented: a
  step finds out, at its time, whether the contact may be written to); a later order ends it.

Steps come `after_days` / `after_hours` after the start (the consent's or the order's time):
by default at once, 3 days and 7 days later, the last with a small offer. A first-time buyer's
first step is the loyalty recipe's 1st-order thank-you (campaign `milestone`, `orders: 1`) when
that milestone is on: the buyer track then starts at step 2, so the first order is thanked once.

What starts a series must be fresh (received at most `FRESH` after it happened): a shop importing
its history welcomes nobody subscribed or first served long ago. A sweep that comes late takes only
the step due last (never a burst of past steps), and sends nothing for it past `LATE`. A
`holdout_percent` of those who start is never emailed, but recorded (`skipped: holdout`), so the
series' lift can be measured.

State (`Profile.recipes["welcome"]`): `track` (subscriber, buyer, or `none`: a consent too old to
welcome, recorded so later consents take the one-write path), `basis` (when it started), `orders`
(the contact's orders then: one more ends it), `sent` (steps taken, skipped or not), `holdout`,
`exit` (`ordered`) and `started_at` (when we heard).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import CustomerUpdated, OrderPlaced, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, in_holdout, state_of

NAME = "welcome"
FRESH = timedelta(hours=48)
LATE = timedelta(hours=48)  # a step the sweep reaches later than this after its time is not sent
TRACKS = ("subscriber", "buyer")
# a step's email is stale once the next step is due; the last one this long after its time
LAST_STEP_VALID = timedelta(days=7)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after_days: Annotated[int, Field(ge=0, le=365)] = 0
    after_hours: Annotated[int, Field(ge=0, le=24 * 365)] = 0
    offer: Offer | None = None

    @property
    def after(self) -> timedelta:
        return timedelta(days=self.after_days, hours=self.after_hours)


class Welcome(RecipeSettings):
    steps: Annotated[list[Step], Field(min_length=1, max_length=6)] = Field(
        default_factory=lambda: [Step(), Step(after_days=3), Step(after_days=7)]
    )
    # which tracks start a series
    subscribers: bool = True
    buyers: bool = True
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 0

    @model_validator(mode="after")
    def _ordered(self) -> Welcome:
        offsets = [s.after for s in self.steps]
        if offsets != sorted(set(offsets)):
            raise ValueError("welcome steps must come in strictly growing after_days/after_hours order")
        return self


def settings(playbook: Playbook) -> Welcome:
    section = playbook.section(NAME)
    assert isinstance(section, Welcome)
    return section


def first_order_thanked(playbook: Playbook) -> bool:
    """Does the loyalty recipe thank a first order (its `orders: 1` milestone)? Then that is the
    buyer track's first step."""
    from comeback.recipes import loyalty  # the recipe that sends the 1st-order thank-you

    rules = loyalty.settings(playbook)
    return rules.enabled and any(m.orders == 1 for m in rules.milestones)


def series(profile: Profile) -> dict[str, Any] | None:
    """The contact's series (its state), if one was started."""
    state = state_of(profile, NAME)
    return state if state.get("track") in TRACKS else None


def ordered_since(profile: Profile, state: dict[str, Any]) -> bool:
    """An order after the start ends the series (orders only add up: any arrival order agrees)."""
    return profile.orders_count > int(state.get("orders", 0))


class WelcomeRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "news"
    priority = 3
    section_key = NAME
    settings_model = Welcome
    reads: ClassVar[tuple[str, ...]] = ("orders_count",)  # still_wanted: an order since the ask

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced):
            return None  # a first order starts the buyer track, a later one ends a series
        if isinstance(event, CustomerUpdated) and event.data.accepts_marketing:
            # a consent starts a series only for a contact that never had one: with any state
            # stored, it changes nothing here and the one-write path applies
            return FastEffect(requires={"track": (*TRACKS, "none")})
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        rules = settings(playbook)
        state = state_of(after, NAME)
        fresh = now - event.occurred_at <= FRESH
        if state.get("track") in TRACKS:
            if not isinstance(event, OrderPlaced) or state.get("exit") or not ordered_since(after, state):
                return Decision()
            if state["track"] == "subscriber" and rules.buyers and fresh and after.orders_count == 1:
                # the subscriber's series stops at the first order, and the first-time buyer's starts
                return self._buyer(event, after, playbook, now) or Decision(
                    state={**state, "exit": "ordered"}
                )
            return Decision(state={**state, "exit": "ordered"})
        if isinstance(event, CustomerUpdated) and event.data.accepts_marketing:
            if state:
                return Decision()
            consented_before = before is not None and before.accepts_marketing is True
            if not rules.subscribers or consented_before or not fresh or after.accepts_marketing is not True:
                # recorded, so the next consent of this contact takes the one-write path
                return Decision(state={"track": "none", "at": isoformat(event.occurred_at)})
            return Decision(state=self._start("subscriber", event, after, 0, now))
        if isinstance(event, OrderPlaced) and rules.buyers and fresh and after.orders_count == 1:
            return self._buyer(event, after, playbook, now) or Decision()
        return Decision()

    def _buyer(self, event: ShopEvent, after: Profile, playbook: Playbook, now: datetime) -> Decision | None:
        """The first-time buyer's series; its step 1 is loyalty's 1st-order thank-you when that is on."""
        skip = 1 if first_order_thanked(playbook) else 0
        if skip >= len(settings(playbook).steps):
            return None
        return Decision(state=self._start("buyer", event, after, skip, now))

    def _start(
        self, track: str, event: ShopEvent, after: Profile, skip: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "track": track,
            "basis": isoformat(event.occurred_at),
            "orders": after.orders_count,
            "sent": skip,
            "started_at": isoformat(now),
        }

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        state = series(profile)
        if state is None or profile.erased_at or profile.merged_into:
            return None
        steps = settings(playbook).steps
        sent = int(state.get("sent", 0))
        if state.get("exit") or sent >= len(steps):
            return None
        if ordered_since(profile, state):
            return parse_iso(state["basis"])  # due now: the sweep records the exit
        return parse_iso(state["basis"]) + steps[sent].after

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        found = series(profile)
        rules = settings(playbook)
        if found is None or found.get("exit"):
            return Decision()
        state = dict(found)
        if ordered_since(profile, state):
            return Decision(state={**state, "exit": "ordered"}, skipped=("ordered",))
        basis = parse_iso(state["basis"])
        taken = int(state.get("sent", 0))
        # several steps due at once (a sweep that did not run): only the latest is sent
        step = taken
        while step < len(rules.steps) and basis + rules.steps[step].after <= now:
            step += 1
        if step == taken:
            return Decision()  # woken early: nothing is due yet
        state["sent"] = step
        if now - (basis + rules.steps[step - 1].after) > LATE:
            return Decision(state=state, skipped=("stale",))  # a welcome weeks late is no welcome
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        track = str(state["track"])
        if "holdout" not in state:
            state["holdout"] = in_holdout(
                profile.shop_id, profile.contact_id, track, NAME, rules.holdout_percent
            )
        holdout = bool(state["holdout"])
        valid_until = basis + rules.steps[step].after if step < len(rules.steps) else now + LAST_STEP_VALID
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=step,
            period=track,
            requested_at=now,
            not_after=max(valid_until, now + timedelta(hours=1)),
            data={"track": track, "orders": state["orders"], "last_step": step == len(rules.steps)},
            variant=track,
            holdout=holdout,
            topic_of=self.topic,
            priority_of=self.priority,
        )
        offer = None if holdout else rules.steps[step - 1].offer
        return Decision(state=state, asks=(Ask(message, offer),))

    # -- sending ---------------------------------------------------------------------------------
    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        orders = request.data.get("orders")
        if isinstance(orders, int) and profile.orders_count > orders:
            return "ordered"  # the order came after the sweep chose them: the series is over
        return None


RECIPE = WelcomeRecipe()
