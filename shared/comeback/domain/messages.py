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


class MessageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: Id
    contact_id: Id
    campaign: Campaign
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

    @property
    def key(self) -> str:
        return f"{self.campaign}#{self.step}#{self.period}"

    @property
    def topic(self) -> Topic:
        return CAMPAIGN_TOPIC[self.campaign]

    @property
    def priority(self) -> int:
        return PRIORITY[self.campaign]

    def stale(self, now: datetime) -> bool:
        return self.not_after is not None and now > self.not_after
