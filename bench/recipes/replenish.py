"""A bench recipe: a reorder reminder `after_days` after the latest order (one per order).

Its due time is a function of the latest order alone, so an order moves it exactly without the
profile (the fast path), and any other event keeps it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, ClassVar

from pydantic import Field

from comeback.domain.clock import parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes.base import KEEP, Ask, Decision, FastEffect, Recipe, RecipeSettings, state_of

NAME = "replenish"


class ReplenishSettings(RecipeSettings):
    enabled: bool = False  # a bench recipe: on only where the bench playbook says so
    after_days: Annotated[int, Field(gt=0, le=365)] = 45


def settings(playbook: Playbook) -> ReplenishSettings:
    section = playbook.section(NAME)
    assert isinstance(section, ReplenishSettings)
    return section


class ReplenishRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "recommendations"
    priority = 6
    section_key = NAME
    settings_model = ReplenishSettings

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if event.type != "order.placed":
            return FastEffect(due=KEEP)
        # the fast path applies only to the newest event: this order is the latest one
        return FastEffect(due=event.occurred_at + timedelta(days=settings(playbook).after_days))

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        last = profile.last_order_at
        if profile.erased_at or profile.merged_into or not last:
            return None
        if state_of(profile, NAME).get("reminded_for") == last:
            return None
        return parse_iso(last) + timedelta(days=settings(playbook).after_days)

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        due = self.next_due(profile, playbook)
        if due is None or due > now or not profile.last_order_at:
            return Decision()
        state = {"reminded_for": profile.last_order_at}
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=profile.last_order_at[:10],
            requested_at=now,
            not_after=due + timedelta(days=7),
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message),))


RECIPE = ReplenishRecipe()
