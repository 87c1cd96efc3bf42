"""Post-purchase survey: `after_days` after an order (7 by default), how was it? (campaign `survey`).

Once per order: the message's period is the order id, so however often the order or the sweep
comes, one email asks about it. One survey at a time: an order placed while an earlier one's
survey is still to come takes its place (the customer is asked about the latest order, the one it
remembers best, not twice in a few days); an order older than the one waiting changes nothing.

No survey for an order refunded first: a refund of the order (any amount, before or after the
order itself arrives) cancels its survey, and a refund landing between the sweep and the send
still wins (`still_wanted`). Nor when the customer already told the shop about the order: a
`feedback.submitted` naming the order (a review, the shop's own survey) cancels it too.

An order arriving late (a shop importing its history) is surveyed only if its survey moment has
not passed by more than `LATE`: a recent order imported today is asked about in a few days, a
ten-month-old one never.

Power users (`power_users`: many orders, often, lately) are asked the broader question, what
should we do better (step 2), instead of an order's survey, at most once in `every_days`. A contact
whose last order is `inactive.after_days` old (60, before win-back's first step at 90) is asked why
it stopped (step 3, period `lapse.{date}`), with the one-click reason links win-back's variants
read (`feedback_reason`), once per lapse; an order before the send cancels it (`ordered`).

Fulfilment: by default the survey goes `after_days` after the order itself. A shop that sends
`order.fulfilled` (its own, or Shopify's orders/fulfilled and fulfillments/create mapped) may
set `wait_for_fulfilment: true`: then an order's survey is due `after_days` after its first
fulfilment (the earliest `occurred_at` of its `order.fulfilled` events, shipped or delivered, a
partial fulfilment included; never before the order), and an order not fulfilled within
`FULFIL_WITHIN` (30 days) of being placed gets none (skipped `unfulfilled`). A fulfilment may come
before its order (it is remembered in `fulfilled`); another event for the same order moves the
survey only when it is earlier. The key is explicit rather than automatic: a shop whose fulfilment
events cover only part of its orders (digital goods, pick-up) would otherwise lose those surveys.
Fulfilments are remembered whatever the key says, so turning it on applies to orders in flight.

State (`Profile.recipes["survey"]`): `pending` (the order waiting: `order_id`, `at`, `items`,
names and quantities the email shows, `fulfilled_at` once known), `latest` (time and id of the
newest order seen: an older one arriving late is not asked about, whatever the arrival order),
`closed` (order ids asked, replaced or cancelled, newest last), `refunded` (order ids a refund
named) and `fulfilled` (`[order id, first fulfilment time]` pairs, newest last), each bounded to
`KEEP_IDS`; `power_at` (when a power user was last asked), `lapse` (the last order whose lapse
was asked about).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import FeedbackSubmitted, OrderFulfilled, OrderPlaced, OrderRefunded, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, decision_id, state_of

NAME = "survey"
LATE = timedelta(days=2)  # a survey this late (a sweep that did not run, an import) is not sent
VALID = timedelta(days=7)  # held back by caps or quiet hours, it may still go this long after its time
KEEP_IDS = 20
FULFIL_WITHIN = timedelta(days=30)  # with wait_for_fulfilment, an order not shipped by then gets none
MAX_ITEMS = 3
PERIOD = re.compile(r"[A-Za-z0-9:._-]{1,64}")


class PowerUsers(BaseModel):
    """Who counts as a power user: `min_orders` orders at least, coming every `max_gap_days` or
    more often on average, the last within `max_gap_days`. Asked the broader question (what should
    we do better?) instead of an order's survey, at most once in `every_days`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_orders: Annotated[int, Field(ge=2, le=1000)] = 5
    max_gap_days: Annotated[int, Field(ge=1, le=365)] = 60
    every_days: Annotated[int, Field(ge=30, le=730)] = 180


class Inactive(BaseModel):
    """A contact whose last order is `after_days` old is asked why (one-click reason links, step
    3), once per lapse: the answer (`feedback_reason`) picks the win-back drip's variant."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_days: Annotated[int, Field(ge=7, le=730)] = 60


class Survey(RecipeSettings):
    after_days: Annotated[int, Field(ge=1, le=90)] = 7
    power_users: PowerUsers | None = PowerUsers()
    inactive: Inactive | None = Inactive()
    # due `after_days` after the order's first `order.fulfilled`, none if not within 30 days
    wait_for_fulfilment: bool = False
    # the shop's feedback form; `{order_id}` in it is replaced by the order's id. Without one, the
    # email's button leads to the shop
    form_url: Annotated[str, Field(pattern=r"^https://", max_length=1024)] | None = None


def settings(playbook: Playbook) -> Survey:
    section = playbook.section(NAME)
    assert isinstance(section, Survey)
    return section


def _bounded(ids: list[Any]) -> list[Any]:
    return ids[-KEEP_IDS:]


def _close(state: dict[str, Any], order_id: str) -> None:
    closed = [i for i in state.get("closed", []) if i != order_id]
    state["closed"] = _bounded([*closed, order_id])


def _fulfilled_at(state: dict[str, Any], order_id: str) -> str | None:
    return next((str(at) for oid, at in state.get("fulfilled", []) if oid == order_id), None)


def _moment(pending: dict[str, Any], rules: Survey) -> tuple[datetime, bool]:
    """When the pending order's survey is due (True), or when waiting for its fulfilment ends
    without one (False)."""
    ordered = parse_iso(pending["at"])
    after = timedelta(days=rules.after_days)
    if not rules.wait_for_fulfilment:
        return ordered + after, True
    fulfilled = pending.get("fulfilled_at")
    if fulfilled and parse_iso(fulfilled) <= ordered + FULFIL_WITHIN:
        return max(parse_iso(fulfilled), ordered) + after, True
    return ordered + FULFIL_WITHIN, False


class SurveyRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "surveys"
    priority = 5
    section_key = NAME
    settings_model = Survey
    reads: ClassVar[tuple[str, ...]] = ("last_order_at",)  # still_wanted: back since we asked why

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced | OrderRefunded | OrderFulfilled):
            return None  # schedules, moves or cancels an order's survey
        if isinstance(event, FeedbackSubmitted) and event.data.order_id:
            return None  # may answer the survey waiting
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        state = state_of(after, NAME)
        pending = state.get("pending")
        if isinstance(event, OrderRefunded):
            order_id = event.data.order_id
            state["refunded"] = _bounded([*(i for i in state.get("refunded", []) if i != order_id), order_id])
            if pending and pending["order_id"] == order_id:
                state.pop("pending")
                _close(state, order_id)
            return Decision(state=state)
        if isinstance(event, OrderFulfilled):
            return _on_fulfilled(state, event)
        if isinstance(event, FeedbackSubmitted) and event.data.order_id:
            if not pending or pending["order_id"] != event.data.order_id:
                return Decision()
            state.pop("pending")
            _close(state, event.data.order_id)
            return Decision(state=state)
        if not isinstance(event, OrderPlaced):
            return Decision()
        order = event.data
        at = isoformat(event.occurred_at)
        mark = [at, order.order_id]
        latest = state.get("latest")
        if latest and list(latest) >= mark:
            # not newer than the latest order seen (or that order again): nothing to ask about it
            if not (pending and pending["order_id"] == order.order_id):
                _close(state, order.order_id)
            return Decision(state=state)
        state["latest"] = mark  # whatever becomes of it, an older order is no longer worth asking about
        if pending:
            _close(state, pending["order_id"])  # the latest order takes the earlier one's place
            state.pop("pending")
        known = order.order_id in state.get("closed", []) or order.order_id in state.get("refunded", [])
        items = [{"name": i.name[:100], "quantity": i.quantity} for i in order.items if i.name][:MAX_ITEMS]
        waiting: dict[str, Any] = {"order_id": order.order_id, "at": at, "items": items}
        fulfilled = _fulfilled_at(state, order.order_id)  # a fulfilment that came before its order
        if fulfilled:
            waiting["fulfilled_at"] = fulfilled
        moment, asks = _moment(waiting, settings(playbook))
        gone = now - moment > LATE if asks else now >= moment
        if known or gone:
            # refunded first, or asked about already (another event id); or its moment long gone
            _close(state, order.order_id)
            return Decision(state=state)
        state["pending"] = waiting
        return Decision(state=state)

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        state = state_of(profile, NAME)
        pending = state.get("pending")
        moments = [_lapse_due(profile, state, settings(playbook))]
        if pending:
            moments.append(_moment(pending, settings(playbook))[0])
        times = [m for m in moments if m is not None]
        return min(times) if times else None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        state = state_of(profile, NAME)
        lapse = _lapse_due(profile, state, settings(playbook))
        if lapse is not None and lapse <= now:
            return self._inactive(profile, state, playbook, now, lapse)
        pending = state.get("pending")
        if not pending:
            return Decision()
        due, asks = _moment(pending, settings(playbook))
        if due > now:
            return Decision()
        state.pop("pending")
        order_id = str(pending["order_id"])
        _close(state, order_id)
        if not asks:
            return Decision(state=state, skipped=("unfulfilled",))  # not shipped within 30 days
        if now - due > LATE:
            return Decision(state=state, skipped=("stale",))
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        data: dict[str, Any] = {"order_id": order_id, "ordered_on": pending["at"][:10],
                                "items": pending.get("items", [])}  # fmt: skip
        step = 1
        power = settings(playbook).power_users
        last = state.get("power_at")
        if (
            power
            and is_power_user(profile, power, now)
            and (not last or now - parse_iso(last) >= timedelta(days=power.every_days))
        ):
            # a power user is asked the broader question instead, at most once in every_days
            step, state["power_at"] = 2, isoformat(now)
            data = {**data, "kind": "power_user", "orders_count": profile.orders_count}
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=step,
            period=_period(order_id),
            requested_at=now,
            not_after=due + VALID,
            data=data,
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message),))

    def _inactive(
        self, profile: Profile, state: dict[str, Any], playbook: Playbook, now: datetime, due: datetime
    ) -> Decision:
        """Why did you stop? Once per lapse (the last order it follows), with reason links."""
        last = str(profile.last_order_at)
        state["lapse"] = last
        if now - due > LATE:
            return Decision(state=state, skipped=("stale",))  # an imported history asks nobody
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=3,
            period=f"lapse.{last[:10]}",
            requested_at=now,
            not_after=due + VALID,
            data={"kind": "inactive", "ask_reason": True, "last_order_at": last, "last_order_on": last[:10]},
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message),))

    # -- sending ---------------------------------------------------------------------------------
    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        if request.data.get("order_id") in state_of(profile, NAME).get("refunded", []):
            return "refunded"  # the refund came after the sweep chose the order
        lapsed = request.data.get("last_order_at")
        if lapsed and profile.last_order_at and profile.last_order_at > lapsed:
            return "ordered"  # back before we asked why they stopped
        return None

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        form = settings(playbook).form_url
        if request.data.get("kind") == "inactive":
            return {"survey_url": None}  # its answer is a reason link, not the order's form
        order_id = str(request.data.get("order_id", ""))
        return {"survey_url": form.replace("{order_id}", quote(order_id, safe="")) if form else None}


def _on_fulfilled(state: dict[str, Any], event: OrderFulfilled) -> Decision:
    """Remember the order's first fulfilment (the earliest seen); the pending order takes it."""
    order_id, at = event.data.order_id, isoformat(event.occurred_at)
    known = _fulfilled_at(state, order_id)
    if known is not None and known <= at:
        return Decision()  # a duplicate, or a later fulfilment (delivered after shipped): no change
    others: list[Any] = [pair for pair in state.get("fulfilled", []) if pair[0] != order_id]
    state["fulfilled"] = _bounded([*others, [order_id, at]])
    pending = state.get("pending")
    if pending and pending["order_id"] == order_id:
        state["pending"] = {**pending, "fulfilled_at": at}  # a copy: the profile's own stays as read
    return Decision(state=state)


def is_power_user(profile: Profile, rule: PowerUsers, now: datetime) -> bool:
    """Many orders, often, lately (from the profile's aggregates: count, first and last order)."""
    if profile.orders_count < rule.min_orders or not profile.first_order_at or not profile.last_order_at:
        return False
    first, last = parse_iso(profile.first_order_at), parse_iso(profile.last_order_at)
    gap = (last - first) / (profile.orders_count - 1)
    return gap <= timedelta(days=rule.max_gap_days) and now - last <= timedelta(days=rule.max_gap_days)


def _lapse_due(profile: Profile, state: dict[str, Any], rules: Survey) -> datetime | None:
    """When the contact's current lapse is asked about (None: no rule, no order, or asked)."""
    if rules.inactive is None or not profile.last_order_at or state.get("lapse") == profile.last_order_at:
        return None
    return parse_iso(profile.last_order_at) + timedelta(days=rules.inactive.after_days)


def _period(order_id: str) -> str:
    """The order id as a message period (ASCII letters, digits and `:._-`, at most 64); an id that
    does not fit keeps a readable start and a hash of the whole, so two orders never share one."""
    if PERIOD.fullmatch(order_id):
        return order_id
    safe = re.sub(r"[^A-Za-z0-9:._-]", "_", order_id)[:40]
    return f"{safe}.{decision_id('survey', order_id)}"


RECIPE = SurveyRecipe()
