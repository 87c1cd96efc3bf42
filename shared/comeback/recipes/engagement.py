"""The engagement score: points per signal, decaying, and a reward each time it reaches a threshold.

Each signal of attention is worth `weights` points: an email click (from SES), an order, a product
view, a site visit, a reply to one of our emails. With `half_life_days` the score halves every so
many days without new signals (None: it never decays). When it reaches `threshold` the contact is
thanked with a reward (campaign `reward`, step 3, period `score.{n}` for the n-th time, the
`offer` as its code) and the score starts again from zero.

The signals are counters on the profile (`orders_count`, `email_clicks`, `views_count`,
`visits_count`, `replies_count`), so a view stays one write on the contacts function's fast path:
no event writes the score. The score is evaluated lazily, from this recipe's state and the
counters as they are now:

    score(now) = score(at) x 0.5^((now - at) / half_life) + gained x 0.5^((now - latest) / half_life)

where `gained` is the sum of weight x (counter - the counter `seen` at the last evaluation), and
`latest` the contact's latest activity or email click (the new signals came no later than that;
evaluated daily, they are at most a day older). Evaluating twice changes nothing: a score
read at noon and decayed to the evening is the score read in the evening. The counters add up
whatever order events arrive in and a duplicate event id never reaches them, so a redelivered
view counts once.

When it is evaluated:
- a view, a visit or a reply makes the contact due at the next `EVALUATE_AT` (09:00) in the
  shop's timezone after it (the same moment for every signal of that day, known from the event
  alone, so the fast path writes it in its one update); the sweep then evaluates, and rewards.
  Any other activity (a cart ...) does the same, so that this recipe's due time is always the
  next morning after the latest activity, never one the fast path must keep from moving the
  others' (a cart right after a view stays one write);
- an order (the contacts function reads the profile for it anyway, for loyalty) is evaluated at
  once, the order aged from its own time (an imported old order is worth little): a crossing leaves
  the contact due at once (`phase: crossed`), and the next sweep sends the reward, having seen
  what arrived with the order (the customer's consent ...);
- an email click comes through SES feedback, which rewrites the profile: it is due like a view.

A crossing is rewarded only while its latest signal is fresh (`FRESH`): a shop importing its
history gives no rewards for it (with decay, old signals are worth little anyway); the score is
kept, and rewarded at the contact's next activity if it is still at the threshold. A contact that
may not be written to (no consent, unsubscribed ...) keeps its score unrewarded the same way. A
contact known before this recipe was enabled starts from what its counters say at its first
activity (its history is not scored at once).

State (`Profile.recipes["engagement"]`): `score` (at `at`), `at`, `seen` (signal -> its counter at
`at`), `phase` (`counting`, or `crossed`: a reward waits for the sweep), `rewarded` (how many
times), `rewarded_at`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain import pacing
from comeback.domain.clock import isoformat, parse_iso, utc
from comeback.domain.events import ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer, RewardType
from comeback.recipes.base import (
    NOTHING,
    Ask,
    Decision,
    FastEffect,
    Recipe,
    RecipeSettings,
    in_holdout,
    state_of,
)

NAME = "engagement"
CAMPAIGN = "reward"  # declared by the loyalty recipe, whose templates say thank you
STEP = 3  # the reward campaign's step for an engagement reward (its templates read `kind`)
FRESH = timedelta(hours=48)
EVALUATE_AT = time(9, 0)  # in the shop's timezone
COUNTING, CROSSED = "counting", "crossed"

# signal -> the profile counter it reads
COUNTERS: dict[str, str] = {
    "click": "email_clicks",
    "order": "orders_count",
    "view": "views_count",
    "reply": "replies_count",
    "visit": "visits_count",
}
# the shop events that are signals (a click comes from SES, not from the shop)
EVENT_SIGNALS: dict[str, str] = {
    "order.placed": "order",
    "product.viewed": "view",
    "site.visited": "visit",
    "message.replied": "reply",
}

Weight = Annotated[int, Field(ge=0, le=10_000)]


class Weights(BaseModel):
    """Points per signal (0: the signal does not count)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    click: Weight = 5
    order: Weight = 20
    view: Weight = 1
    reply: Weight = 10
    visit: Weight = 1


class EngagementSettings(RecipeSettings):
    weights: Weights = Field(default_factory=Weights)
    # the score halves after this many days without signals (None: it never decays)
    half_life_days: Annotated[float, Field(gt=0, le=3650)] | None = 30
    threshold: Annotated[int, Field(ge=1, le=1_000_000)] = 100
    # the reward of each crossing (None: the thank-you email alone)
    offer: Offer | None = Field(
        default_factory=lambda: Offer(type=RewardType.PERCENT_OFF, percent=10, valid_days=30)
    )
    # a share of the contacts who cross is thanked by nobody, so the reward's lift can be measured
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 0


def settings(playbook: Playbook) -> EngagementSettings:
    section = playbook.section(NAME)
    assert isinstance(section, EngagementSettings)
    return section


def counters(profile: Profile | None) -> dict[str, int]:
    return {signal: int(getattr(profile, field, 0) or 0) for signal, field in COUNTERS.items()}


def signal_of(event: ShopEvent, rules: EngagementSettings) -> str | None:
    """The signal an event is, if it counts (a weight of 0 makes it no signal)."""
    signal = EVENT_SIGNALS.get(event.type)
    return signal if signal and getattr(rules.weights, signal) > 0 else None


def next_evaluation(after: datetime, playbook: Playbook) -> datetime:
    """The first `EVALUATE_AT` in the shop's timezone strictly after `after`, in UTC."""
    tz = pacing.zone(None, playbook.shop.timezone)
    local = after.astimezone(tz)
    moment = datetime.combine(local.date(), EVALUATE_AT, tz)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), EVALUATE_AT, tz)
    return utc(moment)


def decay(rules: EngagementSettings, since: datetime, now: datetime) -> float:
    if rules.half_life_days is None or now <= since:
        return 1.0
    days = (now - since).total_seconds() / 86_400
    return float(0.5 ** (days / rules.half_life_days))


def latest_signal(profile: Profile) -> datetime | None:
    """No signal the counters hold came after this: the latest activity or email click (an open
    is no signal: mail clients open emails by themselves)."""
    moments = [
        m for m in (profile.last_activity_at, profile.last_click["at"] if profile.last_click else None) if m
    ]
    return parse_iso(max(moments)) if moments else None


def gained(profile: Profile, seen: dict[str, int], rules: EngagementSettings) -> int:
    """The points of the signals counted since `seen` (undecayed)."""
    now_counted = counters(profile)
    weights = rules.weights
    return sum(getattr(weights, s) * max(0, now_counted[s] - int(seen.get(s, 0))) for s in COUNTERS)


def score(profile: Profile | None, rules: EngagementSettings, now: datetime) -> tuple[float, datetime | None]:
    """The score at `now`, and the time of the latest signal it holds. Without a state yet the
    score is 0: what the counters held before is history, not scored at once."""
    state = state_of(profile, NAME) if profile else {}
    if profile is None or not state:
        return 0.0, None
    latest = latest_signal(profile)
    if latest is not None and latest > now:
        latest = now  # an event a little in the future (a shop's clock ahead of ours)
    value = float(state.get("score", 0.0)) * decay(rules, parse_iso(state["at"]), now)
    new = gained(profile, dict(state.get("seen", {})), rules)
    if new:
        value += new * decay(rules, latest or now, now)
    return value, latest


def standing(profile: Profile, playbook: Playbook, now: datetime) -> dict[str, Any]:
    """What the contact view shows: the score now (decayed, with the signals not yet evaluated)."""
    rules = settings(playbook)
    if not rules.enabled:
        return {"engagement_score": None, "engagement": None}
    state = state_of(profile, NAME)
    value, _ = score(profile, rules, now)
    return {
        "engagement_score": round(value, 1),
        "engagement": {
            "score": round(value, 1),
            "threshold": rules.threshold,
            "half_life_days": rules.half_life_days,
            "rewarded": int(state.get("rewarded", 0)),
            "last_rewarded_at": state.get("rewarded_at"),
            "evaluated_at": state.get("at"),
        },
    }


class EngagementRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "rewards"
    priority = 0
    section_key = NAME
    settings_model = EngagementSettings

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        signal = signal_of(event, settings(playbook))
        if signal == "order":
            return None  # scored at once, with the profile (read for loyalty anyway)
        if not event.is_activity:
            return FastEffect()  # no signal, no activity: the due time stays
        # A signal is looked at the next morning. So is any activity (a cart ...): the due time is
        # then the same whatever the event (the next morning after the latest activity), so this
        # recipe's never holds the fast path back from moving the others'. A crossing waiting for
        # the sweep must not be put off, and a contact without a state yet starts from its
        # counters: the slow path decides both.
        return FastEffect(due=next_evaluation(event.occurred_at, playbook), requires={"phase": (COUNTING,)})

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        rules = settings(playbook)
        signal = signal_of(event, rules)
        phase = state_of(after, NAME).get("phase")
        # what the fast path does (nothing but the due time) must be what this does where it applies
        if signal != "order" and (phase == COUNTING or (not event.is_activity and before is not None)):
            return NOTHING
        # what was counted before this event, aged from the latest of it; the event from its own time
        value, _ = score(before, rules, now)
        if signal is not None:
            value += getattr(rules.weights, signal) * decay(rules, min(event.occurred_at, now), now)
        latest = latest_signal(after)
        crossed = value >= rules.threshold and latest is not None and _fresh(min(latest, now), now)
        return Decision(state=self._state(after, value, now, CROSSED if crossed else COUNTING))

    def _state(self, profile: Profile, value: float, now: datetime, phase: str) -> dict[str, Any]:
        state = state_of(profile, NAME)
        return {
            "score": round(value, 6),
            "at": isoformat(now),
            "seen": counters(profile),
            "phase": phase,
            "rewarded": int(state.get("rewarded", 0)),
            "rewarded_at": state.get("rewarded_at"),
        }

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        state = state_of(profile, NAME)
        if not state:
            return None  # nothing scored yet: the contact's first signal starts the score
        at = parse_iso(state["at"])
        if state.get("phase") == CROSSED:
            return at
        latest = latest_signal(profile)
        if latest is not None and latest > at:
            return next_evaluation(latest, playbook)  # something happened since the last look
        if gained(profile, dict(state.get("seen", {})), settings(playbook)):
            return next_evaluation(latest, playbook) if latest else at  # a signal older than the look
        return None  # the score only decays from here: it cannot reach the threshold

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        state = state_of(profile, NAME)
        if not state:
            return NOTHING
        rules = settings(playbook)
        value, latest = score(profile, rules, now)
        counted = self._state(profile, value, now, COUNTING)
        if value < rules.threshold:
            return Decision(state=counted)
        if not _fresh(latest, now):
            return Decision(state=counted, skipped=("stale",))  # kept for the next activity
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=counted, skipped=(blocked,))
        n = int(state.get("rewarded", 0)) + 1
        period = f"score.{n}"
        holdout = in_holdout(profile.shop_id, profile.contact_id, period, NAME, rules.holdout_percent)
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=CAMPAIGN,
            step=STEP,
            period=period,
            requested_at=now,
            not_after=now + timedelta(days=7),
            data={"kind": "engagement", "score": round(value, 1)},
            holdout=holdout,
            topic_of=self.topic,
            priority_of=self.priority,
        )
        reset = {**counted, "score": 0.0, "rewarded": n, "rewarded_at": isoformat(now)}
        return Decision(state=reset, asks=(Ask(message, None if holdout else rules.offer),))


def _fresh(latest: datetime | None, now: datetime) -> bool:
    return latest is not None and now - latest <= FRESH


RECIPE = EngagementRecipe()
