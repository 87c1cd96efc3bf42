"""An in-memory `DueStore`: profiles on a due "index" by shard, for unit tests of the sweep service.

It keeps the adapter's rules: a page holds the profiles with `due_at <= now` in (due_at, contact)
order, `limit` at a time, with a cursor; `advance` writes only if the contact's last activity and
the changed recipes' states are those that were read (the conditional write of DynamoDueStore).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from comeback.aws.keys import due_shard
from comeback.domain.clock import isoformat
from comeback.domain.profile import Profile
from comeback.domain.stores import DueContact, DuePage, HeldMessage
from comeback.recipes import engine
from comeback.recipes.base import Note


class InMemoryDueStore:
    def __init__(self, shards: int) -> None:
        self._shards = shards
        self._lock = threading.Lock()
        self.profiles: dict[tuple[str, str], Profile] = {}
        self.notes: list[Note] = []
        self.items_read = 0

    def put(self, profile: Profile, playbook: object) -> None:
        """Store a profile as the contacts function would: its recipes' due times computed."""
        self.profiles[(profile.shop_id, profile.contact_id)] = engine.with_dues(profile, playbook)  # type: ignore[arg-type]

    def shard_of(self, profile: Profile) -> str:
        return due_shard(profile.shop_id, profile.contact_id, self._shards)

    def page(self, shard: str, now: datetime, cursor: str | None, limit: int) -> DuePage:
        stamp = isoformat(now)
        with self._lock:
            due = sorted(
                (min(p.dues.values()), key)
                for key, p in self.profiles.items()
                if p.dues and min(p.dues.values()) <= stamp and self.shard_of(p) == shard
            )
            # like DynamoDB's ExclusiveStartKey: the page starts after the last item read, whatever
            # moved since (advanced contacts leave the range; they are not skipped over)
            after = tuple(cursor.split("|")) if cursor else None
            rest = [(at, key) for at, key in due if after is None or (at, *key) > after]
            chosen = rest[:limit]
            self.items_read += len(chosen)
            contacts = [DueContact(self.profiles[key], self.profiles[key]) for _, key in chosen]
        more = len(rest) > limit
        last = "|".join((chosen[-1][0], *chosen[-1][1])) if chosen else None
        return DuePage(contacts, [], last if more else None, len(chosen))

    def advance(self, due: DueContact, after: Profile, changed: Sequence[str], notes: Sequence[Note]) -> bool:
        read: Profile = due.read
        key = (after.shop_id, after.contact_id)
        with self._lock:
            now = self.profiles.get(key)
            if now is None or now.last_activity_at != read.last_activity_at:
                return False
            if any(now.recipes.get(name) != read.recipes.get(name) for name in changed):
                return False
            self.profiles[key] = now.model_copy(
                update={
                    "recipes": {**now.recipes, **{n: after.recipes[n] for n in changed}},
                    "dues": after.dues,
                }
            )
            self.notes.extend(notes)
        return True

    def release(self, held: HeldMessage) -> bool:
        return True
