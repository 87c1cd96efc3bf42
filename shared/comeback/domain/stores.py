"""The small store interfaces the services work through (AWS adapters in `comeback.aws`, in-memory
fakes in `tests/fakes`): typed values in and out, never DynamoDB's wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from comeback.domain.messages import MessageRequest
from comeback.domain.profile import Profile
from comeback.domain.rewards import Reward, RewardRequest
from comeback.recipes.base import Note


@dataclass(frozen=True)
class DueContact:
    """A profile on the due index whose time has come, and what its write-back is conditioned on."""

    profile: Profile
    read: Any  # the store's own token of what was read (opaque to the services)


@dataclass(frozen=True)
class HeldMessage:
    """A message a cap or quiet hours held back, whose time has come."""

    request: MessageRequest
    read: Any


@dataclass(frozen=True)
class DuePage:
    contacts: list[DueContact]
    held: list[HeldMessage]
    cursor: str | None  # where the next page starts (None: the shard is done)
    items_read: int


class DueStore(Protocol):
    def page(self, shard: str, now: datetime, cursor: str | None, limit: int) -> DuePage: ...

    def advance(self, due: DueContact, after: Profile, changed: Sequence[str], notes: Sequence[Note]) -> bool:
        """Write the recipes' new states and due times, unless the contact acted since it was read
        or another writer moved one of those recipes first; False when it lost (nothing written)."""
        ...

    def release(self, held: HeldMessage) -> bool:
        """Take a held message off the index, unless it was held again meanwhile."""
        ...


class RewardLedger(Protocol):
    def issue(self, request: RewardRequest, code_prefix: str = ...) -> Reward: ...

    def get(self, shop_id: str, contact_id: str, key: str) -> Reward | None: ...

    def redeem(self, shop_id: str, code: str, order_id: str, at: datetime) -> Reward | None: ...

    def expire(self, shop_id: str, contact_id: str, key: str, now: datetime) -> Reward | None: ...

    def mark_reminded(self, shop_id: str, contact_id: str, key: str, now: datetime) -> bool: ...

    def for_contact(self, shop_id: str, contact_id: str) -> list[Reward]: ...
