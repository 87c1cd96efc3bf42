"""What the engine asks the sender to send: one `MessageRequest` per message, on the outbox queue.

A message has a deterministic key (shop, contact, campaign, step, period): whoever asks for it and
however often, the sender sends it at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.events import Id, UtcDatetime

Campaign = Literal[
    "winback", "reward", "milestone", "tier", "birthday", "anniversary", "survey", "nps",
    "crosssell", "upsell", "browse", "cart", "welcome", "invite", "expiry", "feedback",
]  # fmt: skip

Topic = Literal["rewards", "winback", "surveys", "recommendations", "news"]
TOPICS: tuple[Topic, ...] = ("rewards", "winback", "surveys", "recommendations", "news")

# The preference-centre topic each campaign belongs to (a contact may leave one topic only).
CAMPAIGN_TOPIC: dict[str, Topic] = {
    "winback": "winback",
    "reward": "rewards", "milestone": "rewards", "tier": "rewards", "birthday": "rewards",
    "anniversary": "rewards", "expiry": "rewards",
    "survey": "surveys", "nps": "surveys", "feedback": "surveys",
    "crosssell": "recommendations", "upsell": "recommendations", "browse": "recommendations",
    "cart": "recommendations",
    "welcome": "news", "invite": "news",
}  # fmt: skip

# When several messages compete for a capped slot, the lower number goes first.
PRIORITY: dict[str, int] = {
    "reward": 0, "expiry": 0, "milestone": 0, "tier": 0, "birthday": 1, "anniversary": 1,
    "cart": 2, "browse": 2, "winback": 3, "welcome": 3, "crosssell": 4, "upsell": 4,
    "invite": 4, "survey": 5, "nps": 5, "feedback": 5,
}  # fmt: skip


# How a win-back lapse's step 1 was timed (`timing` of its playbook section): at the fixed days,
# by the customer's own rhythm, or meant to be by prediction but at the fixed days for want of a
# model the shop can use (`no_model`).
Timed = Literal["fixed", "predictive", "no_model"]
TIMED: tuple[Timed, ...] = ("fixed", "predictive", "no_model")

# A recipe's name is its campaign id: the shipped ones above, or a shop's own recipe's.
CampaignId = Annotated[str, Field(pattern=r"^[a-z]{2,24}$")]


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: Id
    contact_id: Id
    campaign: CampaignId
    step: Annotated[int, Field(ge=1, le=99)] = 1
    period: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")]
    data: dict[str, Any] = Field(default_factory=dict)
    requested_at: UtcDatetime
    # After this instant the message is no longer worth sending (a delayed message is then dropped).
    not_after: UtcDatetime | None = None
    # What the decision was based on (win-back: the last_activity_at it answers); the sender
    # re-checks it so a customer who came back in between gets nothing.
    basis: str | None = None
    # How many times SES throttled this message so far (drives the backoff of the next try).
    attempt: Annotated[int, Field(ge=0, le=50)] = 0
    # Set by the recipe that asks; a campaign without one takes the shipped table's.
    topic_of: Topic | None = None
    priority_of: Annotated[int, Field(ge=0, le=9)] | None = None
    # The copy chosen for this contact (win-back: the reason they gave), for templates and reports.
    variant: Annotated[str, Field(pattern=r"^[a-z_]{1,24}$")] | None = None
    # In the recipe's holdout: recorded as skipped (reason holdout), never sent, followed like the rest.
    holdout: bool = False
    # Replies go to this person instead of the shop's sender reply-to (win-back, experience variant).
    reply_to: Annotated[str, Field(max_length=254)] | None = None
    # How the step was timed (win-back with predictive or compare timing), for the report; None: fixed days.
    timing: Timed | None = None

    @property
    def key(self) -> str:
        return f"{self.campaign}#{self.step}#{self.period}"

    @property
    def topic(self) -> Topic:
        return self.topic_of or CAMPAIGN_TOPIC.get(self.campaign, "news")

    @property
    def priority(self) -> int:
        return self.priority_of if self.priority_of is not None else PRIORITY.get(self.campaign, 5)

    def stale(self, now: datetime) -> bool:
        return self.not_after is not None and now > self.not_after
