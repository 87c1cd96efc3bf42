"""A bench recipe, `orderversary`: one message a year after the contact's first order, then done.

(Not the shipped sign-up anniversary, `comeback.recipes.anniversary`, which comes every year.)

Whether an order is the first one only the stored state knows, so the first order goes the slow
path (which arms the recipe) and later ones keep its due time on the fast path (`requires`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from comeback.domain.clock import parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes.base import KEEP, Ask, Decision, FastEffect, Recipe, RecipeSettings, state_of

NAME = "orderversary"
YEAR = timedelta(days=365)


class OrderversarySettings(RecipeSettings):
    enabled: bool = False  # a bench recipe: on only where the bench playbook says so


class OrderversaryRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "news"
    priority = 7
    section_key = NAME
    settings_model = OrderversarySettings

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if event.type != "order.placed":
            return FastEffect(due=KEEP)
        return FastEffect(due=KEEP, requires={"phase": ("armed", "done")})

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        if event.type != "order.placed" or state_of(after, NAME).get("phase") in ("armed", "done"):
            return Decision()
        return Decision(state={"phase": "armed"})

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into or not profile.first_order_at:
            return None
        if state_of(profile, NAME).get("phase") == "done":
            return None
        return parse_iso(profile.first_order_at) + YEAR

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        due = self.next_due(profile, playbook)
        if due is None or due > now or not profile.first_order_at:
            return Decision()
        state = {"phase": "done"}
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=profile.first_order_at[:10],
            requested_at=now,
            not_after=due + timedelta(days=7),
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message),))


RECIPE = OrderversaryRecipe()
