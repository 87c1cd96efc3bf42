"""The one interface every retention recipe implements, and what it answers with.

A recipe is told about two moments and asked two questions:

- **an event** (`fast` without the profile, `on_event` with it): what the event changes for it (its
  state, its next due time, a stage change to announce, a message to send at once);
- **its due time** (`plan`): what to do now (messages, rewards, announcements) and its new state;
- **at send time** (`still_wanted`): is a queued message of its campaign still worth sending?
- **when rendering** (`context`): what its templates need beyond the common context.

Its state is one entry of the profile's `recipes` map (a JSON object it alone reads and writes);
its due time is a pure function of the profile (`next_due`), so the contacts function and the
sweep keep the contact's one due time, the earliest of its recipes', without knowing any of them.
A recipe never sees boto3 or DynamoDB: the engine stores what it returns.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.messages import MessageRequest, Topic
from comeback.domain.money import format_money
from comeback.domain.segments import SEGMENTS, Segment

if TYPE_CHECKING:
    from comeback.domain.events import ShopEvent
    from comeback.domain.playbook import Playbook
    from comeback.domain.products import ProductReader
    from comeback.domain.profile import Profile
    from comeback.domain.rewards import Offer, Reward
    from comeback.domain.tasks import Task


class RecipeSettings(BaseModel):
    """A recipe's playbook section (its key is the recipe's `section_key`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # The RFM segments (comeback.domain.segments) the recipe writes to; empty: every contact. A
    # contact in another segment is skipped (`not_in_segment`): nothing sent, no reward issued. A
    # contact with no segment (the shop's first daily segmentation has not run, or it never
    # ordered) is not judged: there is nothing to rank it against.
    segments: Annotated[list[Segment], Field(max_length=len(SEGMENTS))] = Field(default_factory=list)


class Keep(enum.Enum):
    """The event leaves the recipe's due time as stored."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class FastEffect:
    """What an event means to a recipe when the contacts function has not read the profile.

    `due` is the recipe's exact next due time after the event (None: nothing pending), or KEEP.
    `requires` names stored state values this holds for: state key -> the values allowed. When the
    stored state says otherwise, the one-write fast path does not apply and the slow path asks
    `on_event` with the whole profile (where the recipe may, say, announce a stage change).
    """

    due: datetime | Keep | None = KEEP
    requires: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ask:
    """A message the recipe wants, with the reward it carries (issued before the message is queued)."""

    message: MessageRequest
    offer: Offer | None = None


@dataclass(frozen=True)
class Notice:
    """Something the shop's other systems may follow, published on the bus (`detail_type`, `detail`)."""

    detail_type: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Note:
    """A line of the contact's activity (its story): what happened and when."""

    kind: str
    at: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class LedgerOp:
    """A change the recipe asks of the reward ledger (the engine applies it and announces it)."""

    kind: Literal["expire", "redeem", "remind"]
    key: str | None = None  # the reward's key (expire, remind)
    code: str | None = None  # the code an order carried (redeem)
    order_id: str | None = None


@dataclass(frozen=True)
class TaskOp:
    """A change the recipe asks of the team's task list (the engine applies it and announces it).

    `open`: create `task` unless its id exists (a new one is announced as `task.created` and sent
    to the shop's team); `comment`: add the customer's comment to an open task; `close`: mark done.
    """

    kind: Literal["open", "comment", "close"]
    task_id: str
    task: Task | None = None  # open
    comment: str | None = None  # comment
    email: str | None = None  # open: the customer's address, for the team's email (never stored)
    by: str | None = None  # close: who closed it


@dataclass(frozen=True)
class Decision:
    """What a recipe decided. `state` None leaves its stored state as it is."""

    state: dict[str, Any] | None = None
    asks: tuple[Ask, ...] = ()
    notices: tuple[Notice, ...] = ()
    notes: tuple[Note, ...] = ()
    ledger: tuple[LedgerOp, ...] = ()
    tasks: tuple[TaskOp, ...] = ()
    # why a step that came due asked for no message (not reachable; a holdout is an ask) - for the report
    skipped: tuple[str, ...] = ()


NOTHING = Decision()


class Recipe:
    """Base class of every recipe; the defaults are those of a recipe that ignores events."""

    name: ClassVar[str]  # the campaign id of its messages and its key in `Profile.recipes`
    campaigns: ClassVar[tuple[str, ...]] = ()  # other campaigns it sends (loyalty: tier, milestone ...)
    topic: ClassVar[Topic]  # the preference-centre topic a contact may leave
    priority: ClassVar[int]  # lower goes first when messages compete for a capped send slot
    section_key: ClassVar[str]  # its playbook section
    settings_model: ClassVar[type[RecipeSettings]]
    # profile fields its `still_wanted` and `context` read beyond the sender's own (the sender reads
    # a projection of the profile)
    reads: ClassVar[tuple[str, ...]] = ()
    # reads what the shop's events taught about its products (`plan_with`): while such a recipe is
    # on, the contacts function keeps the shop's product catalogue and co-occurrence counts
    reads_products: ClassVar[bool] = False
    # judges `segments` itself (win-back: once, as a lapse enters the drip); otherwise the engine
    # drops the recipe's messages to contacts outside them (comeback.recipes.engine.audience)
    judges_segments: ClassVar[bool] = False

    def settings(self, playbook: Playbook) -> Any:
        return playbook.section(self.section_key)

    def enabled(self, playbook: Playbook) -> bool:
        return bool(self.settings(playbook).enabled)

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        """The event's effect without the profile; None when the recipe must see the profile."""
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        """The event's effect with the whole profile (the slow path). `after` has the event merged."""
        return NOTHING

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        """When the sweep should ask `plan` next (a pure function of the profile)."""
        return None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        """What to do now that the recipe is due; its new state must move `next_due` on."""
        return NOTHING

    def plan_with(
        self, profile: Profile, playbook: Playbook, now: datetime, products: ProductReader
    ) -> Decision:
        """`plan`, for a recipe that also reads the shop's products (by default, `plan`)."""
        return self.plan(profile, playbook, now)

    def on_reward(self, profile: Profile, reward: Reward, playbook: Playbook) -> Decision:
        """A reward was issued or changed state in the ledger (whichever recipe asked for it)."""
        return NOTHING

    # -- sending ---------------------------------------------------------------------------------
    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        """Why a queued message of this recipe must not go out now (None: it may)."""
        return None

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        """What this recipe's templates need beyond the common context (by default, the reward the
        message carries, if any: its `code` and its `discount` as a customer reads it)."""
        return reward_context(request)


def reward_context(request: MessageRequest) -> dict[str, Any]:
    reward = request.data.get("reward")
    if not isinstance(reward, dict):
        return {}
    discount = None
    if reward.get("percent"):
        discount = f"{reward['percent']}%"
    elif reward.get("value_minor") and reward.get("currency"):
        discount = format_money(int(reward["value_minor"]), str(reward["currency"]))
    return {"code": reward["code"], "discount": discount}


def state_of(profile: Profile, recipe: str) -> dict[str, Any]:
    entry = profile.recipes.get(recipe)
    return dict(entry["v"]) if entry else {}


def decision_id(*parts: object) -> str:
    """A short deterministic id of a decision (the state's LWW id and the notices' ids)."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def in_holdout(shop_id: str, contact_id: str, period: str, recipe: str, percent: float) -> bool:
    """A deterministic share of a recipe's audience that is never emailed, by hash of who and when.

    The same contact is in or out for a whole lapse (period), whoever asks and however often; a
    new lapse draws again, so nobody is kept from a recipe forever.
    """
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout|{recipe}|{shop_id}|{contact_id}|{period}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < percent / 100
