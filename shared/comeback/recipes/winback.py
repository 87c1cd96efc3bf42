"""Win-back: a drip to customers who stopped buying, with offers that escalate, measured against a holdout.

Steps come at `after_days` after the last activity (90 / 135 / 180 / 270 by default); a purchase
(any activity) starts a new lapse, a click on one of its emails ends the drip, and after the last
step the contact is sunset: stage `lost`, no marketing until it acts again.

With `timing: {mode: predictive}` step 1 follows the customer's own rhythm instead, from the shop's
fitted BG/NBD (`comeback.domain.predictions`): it is due when the customer's p_alive falls below
`p_alive_below`, or (`overdue_factor`) once it is that many median waits for its next order past
its last order, whichever comes first, kept within `min_days` .. `max_days` of the last activity;
the later steps keep their distance from step 1. It is worked out again on every event and every
wake-up from the shop's current model; without a model the shop can use (too little history) the
fixed `after_days` apply.

`timing: {mode: compare}` is the experiment between the two: a stable `compare_percent` (50 by
default) of the contacts, drawn by hash of shop and contact, is timed by prediction, the others at
the fixed days; the holdout is drawn as always, independently, so each arm has its own holdout.
Each win-back message records its lapse's timing (`MessageRequest.timing`: `fixed`, `predictive`,
or `no_model` for a contact the playbook times by prediction but that got the fixed days for want
of a model the shop can use or an order to learn from), and the win-back report compares each
against its own holdout (docs/reports.md).

Each step may carry an offer (a reward in the ledger: free shipping, amount off, percent off): by
default step 1 is content only, step 2 free shipping, steps 3 and 4 an amount off, the larger on
step 4 (published win-back studies found amount-off about twice as effective as percent-off).

The contact's last feedback reason picks a variant: `price` gets the offer one step early (an
offer from step 1), `experience` an apology with a reply-to a person, `forgot` news and new
arrivals, `product` other products; without a reason, the default copy.

Who qualifies: at least `min_orders` orders, and a one-time buyer only if it spent at least
`one_time_min_spent_minor` (the best lapsed customers, not every one-time low spender); and, if
the playbook names `segments`, a contact whose RFM segment (`comeback.domain.segments`) is one of
them as the lapse enters the drip. A
deterministic `holdout_percent` of those who qualify is never emailed, but recorded
(`skipped: holdout`) and followed like the others, so the lift is measured.

State (`Profile.recipes["winback"]`): the lapse it answers (`basis`, the last activity), steps
taken (`sent`), `asked_at` of the latest step, `holdout`, `variant`, `timing` (how step 1 was
timed, with predictive or compare timing), and `exit` (clicked, not_qualified) or `sunset`.
A newer activity makes it stale by itself: nothing has to reset it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from comeback.domain import segments
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.messages import MessageRequest, Timed
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.domain.segments import Segment
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, in_holdout, state_of

NAME = "winback"
# Days after the last step before the contact is sunset (its last email had time to work).
SUNSET_AFTER_DAYS = 30
REASONS = ("price", "experience", "product", "forgot")
Reason = Literal["price", "experience", "product", "forgot"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(Strict):
    after_days: Annotated[int, Field(gt=0, le=3650)]
    offer: Offer | None = None


class Qualify(Strict):
    min_orders: Annotated[int, Field(ge=0, le=1000)] = 1
    # at least this much spent over the customer's life (minor units of its currency)
    min_spent_minor: Annotated[int, Field(ge=0)] = 0
    # a one-time buyer qualifies only if it spent at least this (minor units of its currency)
    one_time_min_spent_minor: Annotated[int, Field(ge=0)] = 0


class Variant(Strict):
    # `price`: offers start one step early; `experience`: replies go to a person
    offers_early: bool = False
    reply_to: EmailStr | None = None


class Timing(Strict):
    # compare: an experiment, `compare_percent` of the contacts (a stable draw) timed by prediction
    mode: Literal["fixed", "predictive", "compare"] = "fixed"
    compare_percent: Annotated[float, Field(ge=0, le=100)] = 50
    # predictive: step 1 once p_alive falls below this (None: not this criterion) ...
    p_alive_below: Annotated[float, Field(gt=0, lt=1)] | None = 0.5
    # ... or once the customer is this many median waits for its next order past its last order
    overdue_factor: Annotated[float, Field(gt=0, le=20)] | None = None
    # step 1 never sooner than this after the last activity, never later than this
    min_days: Annotated[int, Field(ge=1, le=3650)] = 30
    max_days: Annotated[int, Field(ge=1, le=3650)] = 365

    @model_validator(mode="after")
    def _sane(self) -> Timing:
        if self.min_days > self.max_days:
            raise ValueError("timing.min_days is after timing.max_days")
        if self.mode != "fixed" and self.p_alive_below is None and self.overdue_factor is None:
            raise ValueError(f"{self.mode} timing needs p_alive_below or overdue_factor")
        return self


class Winback(RecipeSettings):
    qualify: Qualify = Qualify()
    timing: Timing = Timing()
    steps: Annotated[list[Step], Field(min_length=1, max_length=10)]
    sunset_after_last_step: bool = True
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 10
    # an order within this many days of a win-back email counts as won back by it
    attribution_days: Annotated[int, Field(ge=1, le=90)] = 30
    # step 1 asks why the customer stopped buying (one-click reason links)
    ask_reason: bool = False
    variants: dict[Reason, Variant] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> Winback:
        days = [s.after_days for s in self.steps]
        if days != sorted(set(days)):
            raise ValueError("win-back steps must be in strictly growing after_days order")
        return self

    def offer_for(self, step: int, variant: str) -> Offer | None:
        """The offer of (1-based) `step`; a variant with early offers takes the next step's."""
        early = self.variants.get(variant) if variant in REASONS else None  # type: ignore[call-overload]
        index = step - 1
        if early and early.offers_early:
            index = min(index + 1, len(self.steps) - 1)
        return self.steps[index].offer


def settings(playbook: Playbook) -> Winback:
    section = playbook.section(NAME)
    assert isinstance(section, Winback)
    return section


# -- what the state says -------------------------------------------------------------------------


def steps_taken(profile: Profile) -> int:
    """Steps already taken for the current lapse (0 when the customer was active since)."""
    state = state_of(profile, NAME)
    return int(state.get("sent", 0)) if state.get("basis") == profile.last_activity_at else 0


def ended(profile: Profile) -> str | None:
    """Why the drip of the current lapse is over before its last step (clicked, not_qualified)."""
    state = state_of(profile, NAME)
    return state.get("exit") if state.get("basis") == profile.last_activity_at else None


def sunset(profile: Profile) -> bool:
    state = state_of(profile, NAME)
    return bool(state.get("sunset")) and state.get("basis") == profile.last_activity_at


def clicked_since(profile: Profile, basis: str) -> bool:
    """Did the contact click a win-back email of this lapse? Then the drip ends: they heard us."""
    click = profile.last_click
    if not (click and click["v"].get("campaign") == NAME and click["at"] > basis):
        return False
    # a late click on an email of an earlier lapse (its period) is no answer to this one
    period = click["v"].get("period")
    return period is None or period == basis[:10]


def answered_ask(profile: Profile, playbook: Playbook) -> str | None:
    """The time of the win-back email the contact's latest order answers, if within the window."""
    state = state_of(profile, NAME)
    asked = state.get("asked_at")
    if not asked or state.get("holdout") or not profile.last_order_at:
        return None
    window = timedelta(days=settings(playbook).attribution_days)
    ordered = parse_iso(profile.last_order_at)
    return str(asked) if parse_iso(asked) < ordered <= parse_iso(asked) + window else None


def qualifies(profile: Profile, rules: Qualify) -> bool:
    if profile.orders_count < rules.min_orders or profile.total_spent_minor < rules.min_spent_minor:
        return False
    return profile.orders_count > 1 or profile.total_spent_minor >= rules.one_time_min_spent_minor


def segment_of(profile: Profile, playbook: Playbook, now: datetime) -> str | None:
    """The contact's RFM segment in its shop now (None: the shop has no segmentation yet)."""
    found = segments.scores(profile, playbook.segmentation, now)
    return found.segment if found else None


def in_segments(segment: str | None, wanted: list[Segment]) -> bool:
    return not wanted or segment is None or segment in wanted


def in_predictive_arm(shop_id: str, contact_id: str, percent: float) -> bool:
    """`timing: {mode: compare}`: is the contact in the arm timed by prediction? A stable draw by
    hash of who (not of the lapse, unlike the holdout): a contact keeps its arm from lapse to lapse,
    and the draw is independent of the holdout's, so each arm has its own holdout."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"timing|{NAME}|{shop_id}|{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < percent / 100


def timing_arm(profile: Profile, playbook: Playbook) -> Timed | None:
    """How the contact's step 1 is timed, for the report: `fixed`, `predictive`, or `no_model`
    (timed by prediction by the playbook, but at the fixed `after_days` as the shop has no model
    it can use yet or the customer no order to learn from). None with `timing: {mode: fixed}`."""
    timing = settings(playbook).timing
    if timing.mode == "fixed":
        return None
    if timing.mode == "compare" and not in_predictive_arm(
        profile.shop_id, profile.contact_id, timing.compare_percent
    ):
        return "fixed"
    return "predictive" if predictive_first_step_days(profile, playbook) is not None else "no_model"


def predictive_first_step_days(profile: Profile, playbook: Playbook) -> float | None:
    """Days after the last activity at which step 1 is due by the customer's own rhythm (None:
    fixed timing or the compare experiment's fixed arm, no model the shop can use yet, or no order
    to learn a rhythm from)."""
    timing = settings(playbook).timing
    model = playbook.predictions
    if timing.mode == "fixed" or model is None or not model.qualifies or not profile.last_activity_at:
        return None
    if timing.mode == "compare" and not in_predictive_arm(
        profile.shop_id, profile.contact_id, timing.compare_percent
    ):
        return None
    from comeback.domain import predictions  # numpy only where a shop times by prediction

    found = predictions.history_of(profile, parse_iso(profile.last_activity_at))
    if found is None or not profile.first_order_at:
        return None
    x, t_x, _ = found
    first = parse_iso(profile.first_order_at)
    candidates: list[datetime] = []
    if timing.p_alive_below is not None:
        candidates.append(
            first + timedelta(days=predictions.alive_until(model, x, t_x, timing.p_alive_below))
        )
    if timing.overdue_factor is not None:
        wait = predictions.median_wait_days(model, x, t_x)  # as it stood at the last order
        candidates.append(first + timedelta(days=t_x + timing.overdue_factor * wait))
    days = (min(candidates) - parse_iso(profile.last_activity_at)).total_seconds() / 86_400
    return min(max(days, float(timing.min_days)), float(timing.max_days))


def step_days(profile: Profile, playbook: Playbook) -> list[float]:
    """Each step's days after the last activity: the fixed `after_days`, or, with predictive timing,
    the same steps moved so that step 1 falls where the customer's rhythm puts it."""
    fixed = [float(s.after_days) for s in settings(playbook).steps]
    first = predictive_first_step_days(profile, playbook)
    return fixed if first is None else [first + d - fixed[0] for d in fixed]


def predictive(playbook: Playbook) -> bool:
    """Does the shop time (some of) win-back by prediction now (its playbook asks, predictive or
    compare, and its model qualifies)?"""
    model = playbook.predictions
    return settings(playbook).timing.mode != "fixed" and model is not None and model.qualifies


def variant_of(profile: Profile) -> str:
    reason = profile.field("feedback_reason")
    return reason if reason in REASONS else "default"


class WinbackRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "winback"
    priority = 3
    section_key = NAME
    settings_model = Winback
    judges_segments = True  # once, as a lapse enters the drip (plan)

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if not event.is_activity:
            return FastEffect()  # the lapse and its steps stay as they are
        if predictive(playbook):
            return None  # step 1 hangs on the customer's orders: the profile decides
        # the event is the newest the contact has seen: a new lapse starts at it, no step taken
        return FastEffect(due=event.occurred_at + timedelta(days=settings(playbook).steps[0].after_days))

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if not profile.last_activity_at or profile.erased_at or profile.merged_into:
            return None
        wb = settings(playbook)
        taken = steps_taken(profile)
        if ended(profile) or sunset(profile):
            return None
        if taken >= len(wb.steps):
            if not wb.sunset_after_last_step:
                return None
            # the sunset comes once the last step had its time to work
            return parse_iso(profile.last_activity_at) + timedelta(
                days=step_days(profile, playbook)[-1] + SUNSET_AFTER_DAYS
            )
        return parse_iso(profile.last_activity_at) + timedelta(days=step_days(profile, playbook)[taken])

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        wb = settings(playbook)
        basis = profile.last_activity_at
        taken = steps_taken(profile)
        if not basis or ended(profile) or sunset(profile):
            return Decision()
        state: dict[str, Any] = {**state_of(profile, NAME), "basis": basis}
        if state_of(profile, NAME).get("basis") != basis:
            state = {"basis": basis, "sent": 0}
        if taken >= len(wb.steps):
            if wb.sunset_after_last_step and self.next_due(profile, playbook) <= now:  # type: ignore[operator]
                return Decision(
                    state={**state, "sunset": True, "sunset_at": isoformat(now)}, skipped=("sunset",)
                )
            return Decision()
        if taken and clicked_since(profile, basis):
            return Decision(state={**state, "exit": "clicked"}, skipped=("clicked",))
        if not qualifies(profile, wb.qualify):
            return Decision(state={**state, "exit": "not_qualified"}, skipped=("not_qualified",))
        if not taken:
            # the segment is judged once, as the lapse enters the drip: recency only falls from there,
            # and a customer let in at step 1 is not dropped at step 2 for having stayed away longer
            segment = segment_of(profile, playbook, now)
            if segment is not None:
                state["segment"] = segment
            if not in_segments(segment, wb.segments):
                return Decision(state={**state, "exit": "not_qualified"}, skipped=("not_in_segment",))
        # Several steps may have come due at once (a sweep that did not run, a backfilled history):
        # take only the latest, so nobody gets a burst of four win-back emails.
        lapse_started = parse_iso(basis)
        days = step_days(profile, playbook)
        step = taken
        while step < len(wb.steps) and lapse_started + timedelta(days=days[step]) <= now:
            step += 1
        if step == taken:
            return Decision()  # woken early: nothing is due yet
        state["sent"] = step
        arm = timing_arm(profile, playbook)
        if not taken and arm is not None:
            state["timing"] = arm  # how step 1 of this lapse was timed (the later steps follow it)
        timed = state.get("timing") if arm is not None else None
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            # nobody to write to: the lapse moves on without a message, so nothing is queued to be refused
            return Decision(state=state, skipped=(blocked,))
        variant = variant_of(profile)
        period = basis[:10]
        holdout = in_holdout(profile.shop_id, profile.contact_id, period, NAME, wb.holdout_percent)
        following = days[step] if step < len(wb.steps) else days[-1] + 30
        chosen = wb.variants.get(variant) if variant in REASONS else None  # type: ignore[call-overload]
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=step,
            period=period,
            requested_at=now,
            # a step is stale once the next one is due (or 30 days after the last)
            not_after=lapse_started + timedelta(days=following),
            basis=basis,
            data={
                "days_since_last_activity": (now - lapse_started).days,
                "ask_reason": wb.ask_reason and step == 1,
            },
            variant=variant,
            holdout=holdout,
            topic_of=self.topic,
            priority_of=self.priority,
            reply_to=str(chosen.reply_to) if chosen and chosen.reply_to else None,
            timing=timed,
        )
        state.update({"asked_at": isoformat(now), "holdout": holdout, "variant": variant})
        offer = None if holdout else wb.offer_for(step, variant)
        return Decision(state=state, asks=(Ask(message, offer),))

    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        if request.basis != profile.last_activity_at:
            return "came_back"  # the customer was active after the sweep chose them
        if request.basis and request.step > 1 and clicked_since(profile, request.basis):
            return "clicked"  # they clicked an earlier step of this lapse: the drip is over
        return None

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        return {
            "variant": request.variant or "default",
            "last_step": request.step == len(settings(playbook).steps),
        }


RECIPE = WinbackRecipe()
