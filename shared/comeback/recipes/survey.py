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

Delivery: the canonical events carry no fulfilment or delivery (the Shopify and WooCommerce
adapters map orders and refunds only), so the survey goes `after_days` after the order itself.

State (`Profile.recipes["survey"]`): `pending` (the order waiting: `order_id`, `at`, `items`,
names and quantities the email shows), `latest` (time and id of the newest order seen: an older one arriving
late is not asked about, whatever the arrival order), `closed` (order ids asked, replaced or
cancelled, newest last) and `refunded` (order ids a refund named), each bounded to `KEEP_IDS`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import Field

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import FeedbackSubmitted, OrderPlaced, OrderRefunded, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes.base import Ask, Decision, FastEffect, Recipe, RecipeSettings, decision_id, state_of

NAME = "survey"
LATE = timedelta(days=2)  # a survey this late (a sweep that did not run, an import) is not sent
VALID = timedelta(days=7)  # held back by caps or quiet hours, it may still go this long after its time
KEEP_IDS = 20
MAX_ITEMS = 3
PERIOD = re.compile(r"[A-Za-z0-9:._-]{1,64}")


class Survey(RecipeSettings):
    after_days: Annotated[int, Field(ge=1, le=90)] = 7
    # the shop's feedback form; `{order_id}` in it is replaced by the order's id. Without one, the
    # email's button leads to the shop
    form_url: Annotated[str, Field(pattern=r"^https://", max_length=1024)] | None = None


def settings(playbook: Playbook) -> Survey:
    section = playbook.section(NAME)
    assert isinstance(section, Survey)
    return section


def _bounded(ids: list[str]) -> list[str]:
    return ids[-KEEP_IDS:]


def _close(state: dict[str, Any], order_id: str) -> None:
    closed = [i for i in state.get("closed", []) if i != order_id]
    state["closed"] = _bounded([*closed, order_id])


class SurveyRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "surveys"
    priority = 5
    section_key = NAME
    settings_model = Survey

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced | OrderRefunded):
            return None  # schedules or cancels an order's survey
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
        gone = now - (event.occurred_at + timedelta(days=settings(playbook).after_days)) > LATE
        if known or gone:
            # refunded first, or asked about already (another event id); or its moment long gone
            _close(state, order.order_id)
            return Decision(state=state)
        items = [{"name": i.name[:100], "quantity": i.quantity} for i in order.items if i.name][:MAX_ITEMS]
        state["pending"] = {"order_id": order.order_id, "at": at, "items": items}
        return Decision(state=state)

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        pending = state_of(profile, NAME).get("pending")
        if not pending:
            return None
        return parse_iso(pending["at"]) + timedelta(days=settings(playbook).after_days)

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        state = state_of(profile, NAME)
        pending = state.get("pending")
        due = self.next_due(profile, playbook)
        if not pending or due is None or due > now:
            return Decision()
        state.pop("pending")
        order_id = str(pending["order_id"])
        _close(state, order_id)
        if now - due > LATE:
            return Decision(state=state, skipped=("stale",))
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=_period(order_id),
            requested_at=now,
            not_after=due + VALID,
            data={"order_id": order_id, "ordered_on": pending["at"][:10], "items": pending.get("items", [])},
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
        return None

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        form = settings(playbook).form_url
        order_id = str(request.data.get("order_id", ""))
        return {"survey_url": form.replace("{order_id}", quote(order_id, safe="")) if form else None}


def _period(order_id: str) -> str:
    """The order id as a message period (ASCII letters, digits and `:._-`, at most 64); an id that
    does not fit keeps a readable start and a hash of the whole, so two orders never share one."""
    if PERIOD.fullmatch(order_id):
        return order_id
    safe = re.sub(r"[^A-Za-z0-9:._-]", "_", order_id)[:40]
    return f"{safe}.{decision_id('survey', order_id)}"


RECIPE = SurveyRecipe()
