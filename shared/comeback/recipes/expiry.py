"""Rewards: the ledger's side of every offer, whichever recipe gave it.

It follows each reward a contact holds: a reminder (campaign `expiry`) `remind_days_before` its
expiry, the expiry itself (the ledger item becomes `expired`, `reward.expired` is published so the
shop's platform can disable the code), and redemption: a code that comes back in an order's
`discount_codes` is `redeemed`, once.

State (`Profile.recipes["expiry"]`): `open`, reward key -> what the reminder needs (code, worth,
expiry) and whether it was reminded; at most `MAX_OPEN` (the oldest are dropped from the state;
the ledger keeps them all, and expires them when asked for the contact's rewards).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import OrderPlaced, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Reward, RewardState, normalise_code
from comeback.recipes.base import Ask, Decision, FastEffect, LedgerOp, Recipe, RecipeSettings, state_of

NAME = "expiry"
MAX_OPEN = 20


class Rewards(RecipeSettings):
    # generated codes look like CB-7KQ4-M2XP
    code_prefix: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,8}$")] = "CB"
    # the expiry reminder goes this many days before a reward expires (0: no reminder)
    remind_days_before: Annotated[int, Field(ge=0, le=60)] = 7


def settings(playbook: Playbook) -> Rewards:
    section = playbook.section("rewards")
    assert isinstance(section, Rewards)
    return section


def open_rewards(profile: Profile) -> dict[str, dict[str, Any]]:
    return dict(state_of(profile, NAME).get("open", {}))


class ExpiryRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "rewards"
    priority = 0
    section_key = "rewards"
    settings_model = Rewards

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced) and event.data.discount_codes:
            return None  # the code may be one of ours: the slow path looks at what the contact holds
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        if not isinstance(event, OrderPlaced) or not event.data.discount_codes:
            return Decision()
        used = {normalise_code(c) for c in event.data.discount_codes}
        held = open_rewards(after)
        redeemed = [k for k, r in held.items() if normalise_code(r["code"]) in used]
        # every code is tried in the ledger: one of ours may be missing from the state (cut, or issued
        # while this event was on its way)
        ops = tuple(LedgerOp("redeem", code=c, order_id=event.data.order_id) for c in sorted(used))
        if not redeemed:
            return Decision(ledger=ops)
        remaining = {k: r for k, r in held.items() if k not in redeemed}
        return Decision(state={"open": remaining}, ledger=ops)

    def on_reward(self, profile: Profile, reward: Reward, playbook: Playbook) -> Decision:
        held = open_rewards(profile)
        if reward.state is not RewardState.ISSUED:
            if reward.key not in held:
                return Decision()
            return Decision(state={"open": {k: r for k, r in held.items() if k != reward.key}})
        if reward.key in held:
            return Decision()
        before = timedelta(days=settings(playbook).remind_days_before)
        remind_at = reward.expires_at - before if before else None
        held[reward.key] = {
            "code": reward.code,
            "type": reward.type.value,
            "value_minor": reward.value_minor,
            "percent": reward.percent,
            "currency": reward.currency,
            "recipe": reward.recipe,
            "expires_at": isoformat(reward.expires_at),
            "remind_at": isoformat(remind_at) if remind_at and remind_at > reward.issued_at else None,
            "reminded": False,
        }
        if len(held) > MAX_OPEN:
            held = dict(sorted(held.items(), key=lambda kv: kv[1]["expires_at"])[-MAX_OPEN:])
        return Decision(state={"open": held})

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        moments = [
            r["remind_at"] if r.get("remind_at") and not r.get("reminded") else r["expires_at"]
            for r in open_rewards(profile).values()
        ]
        return parse_iso(min(moments)) if moments else None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        held = open_rewards(profile)
        stamp = isoformat(now)
        asks: list[Ask] = []
        ops: list[LedgerOp] = []
        for key, reward in sorted(held.items()):
            if reward["expires_at"] <= stamp:
                ops.append(LedgerOp("expire", key=key))
                del held[key]
            elif reward.get("remind_at") and reward["remind_at"] <= stamp and not reward.get("reminded"):
                held[key] = {**reward, "reminded": True}
                ops.append(LedgerOp("remind", key=key))
                if not unreachable(profile, self.topic, playbook):
                    asks.append(Ask(self._reminder(profile, key, reward, now)))
        if not ops:
            return Decision()
        return Decision(state={"open": held}, asks=tuple(asks), ledger=tuple(ops))

    def _reminder(self, profile: Profile, key: str, reward: dict[str, Any], now: datetime) -> MessageRequest:
        return MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=key.replace("#", "."),
            requested_at=now,
            not_after=parse_iso(reward["expires_at"]),
            data={
                "reward_key": key,
                "code": reward["code"],
                "reward_type": reward["type"],
                "value_minor": reward.get("value_minor"),
                "percent": reward.get("percent"),
                "currency": reward.get("currency"),
                "expires_on": reward["expires_at"][:10],
            },
            topic_of=self.topic,
            priority_of=self.priority,
        )

    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        key = request.data.get("reward_key")
        if key and key not in open_rewards(profile):
            return "reward_closed"  # redeemed (or expired) since the reminder was asked for
        return None


RECIPE = ExpiryRecipe()
