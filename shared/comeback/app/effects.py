"""Carrying out what recipes decided: rewards issued and moved in the ledger, messages, bus notices.

Shared by the sweep (what was due) and the contacts function (what an event meant). Everything
here is idempotent (a reward is keyed by recipe, step and period; a redemption or an expiry
happens once; notices have deterministic ids), so it runs *before* the write that records the
decision: a crash in between repeats it, and loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from comeback.app.topology import ENGINE_SOURCE
from comeback.aws.bus import BusEntry
from comeback.domain import notices
from comeback.domain.clock import isoformat
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.rewards import Reward, RewardRequest
from comeback.domain.stores import RewardLedger
from comeback.recipes import engine, expiry

if TYPE_CHECKING:
    from comeback.app.tasks import TaskDesk


@dataclass
class Done:
    messages: list[MessageRequest] = field(default_factory=list)
    entries: list[BusEntry] = field(default_factory=list)
    issued: int = 0


def carry_out(
    outcome: engine.Outcome,
    playbook: Playbook,
    now: datetime,
    rewards: RewardLedger,
    tasks: TaskDesk | None = None,
) -> Done:
    """Issue the rewards the asks carry (the code goes into the message), apply the ledger changes
    the recipes asked for, tell every recipe about the rewards that changed, and open, comment or
    close the team's follow-up tasks (`app.tasks`)."""
    profile = outcome.profile
    done = Done()
    changed: list[Reward] = []
    for ask in outcome.asks:
        message = ask.message
        if ask.offer is not None:
            reward = rewards.issue(
                RewardRequest(
                    shop_id=profile.shop_id,
                    contact_id=profile.contact_id,
                    recipe=message.campaign,
                    step=message.step,
                    period=message.period,
                    offer=ask.offer,
                    currency=profile.currency or playbook.shop.currency,
                    issued_at=now,
                ),
                expiry.settings(playbook).code_prefix,
            )
            message = message.model_copy(update={"data": {**message.data, "reward": reward_data(reward)}})
            changed.append(reward)
            done.entries.append(reward_entry("reward.issued", reward, profile.customer_id))
            done.issued += 1
        done.messages.append(message)
    for _recipe, op in outcome.ledger:
        if op.kind == "expire" and op.key:
            expired = rewards.expire(profile.shop_id, profile.contact_id, op.key, now)
            if expired is not None:
                changed.append(expired)
                done.entries.append(reward_entry("reward.expired", expired, profile.customer_id))
        elif op.kind == "remind" and op.key:
            rewards.mark_reminded(profile.shop_id, profile.contact_id, op.key, now)
        elif op.kind == "redeem" and op.code and op.order_id:
            redeemed = rewards.redeem(profile.shop_id, op.code, op.order_id, now)
            if redeemed is not None and redeemed.contact_id == profile.contact_id:
                changed.append(redeemed)
                done.entries.append(reward_entry("reward.redeemed", redeemed, profile.customer_id))
    if changed:
        engine.rewards_changed(outcome, changed, playbook, now)
    for task_op in outcome.tasks:
        if tasks is None:
            raise RuntimeError("a recipe asked for a follow-up task and this function has no task desk")
        done.entries.extend(tasks.apply(task_op, profile.shop_id, profile.contact_id, playbook, now))
    done.entries.extend(BusEntry(ENGINE_SOURCE, n.detail_type, n.detail) for n in outcome.notices)
    return done


def reward_entry(kind: str, reward: Reward, customer_id: str | None) -> BusEntry:
    notice = notices.reward_notice_of(kind, reward, customer_id)  # type: ignore[arg-type]
    return BusEntry(ENGINE_SOURCE, notice.DETAIL_TYPE, notice.detail())


def reward_data(reward: Reward) -> dict[str, Any]:
    """What a message's templates show of the reward it carries."""
    return {
        "code": reward.code,
        "type": reward.type.value,
        "value_minor": reward.value_minor,
        "percent": reward.percent,
        "currency": reward.currency,
        "expires_on": isoformat(reward.expires_at)[:10],
    }
