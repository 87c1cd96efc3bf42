"""Applying shop events to contacts in DynamoDB: one transaction per event, no read in the usual case.

The usual case (the event is newer than anything the contact has seen, the contact exists and, if
the event names an email, it is the contact's email) is one `TransactWriteItems` of three items:

1. the shop's marker of the event id (`SHOP#{shop}#E#{id}`), `attribute_not_exists`: ids are unique
   per shop, so a repeated id stops here whichever customer it names (docs/events.md);
2. the event's activity item in the contact's partition (its history), also `attribute_not_exists`;
3. an `UpdateItem` of the profile built from `profile.delta(event)` (counters ADD, last-times SET,
   first-times if_not_exists ...), on condition that `last_seen_at < event time`.

Anything else (a new contact, an older event arriving late, a new email, an erasure) cancels that
transaction; DynamoDB hands back the current profile in the cancellation reasons, so the slow path
still needs no read of the profile: it merges in Python with the same rules and writes the whole
profile on condition that its `version` did not move, retrying if a concurrent writer won.

Erasure and the fold of an email-only contact touch many items, more than one transaction should
carry. Both do their idempotent bulk work (deletes, copies) first and write the event's marker in
the transaction that comes last, so nothing is left to do once an event counts as seen: a crash at
any step leaves the marker unwritten, and the redelivery (SQS retries the message) does the
remaining work instead of answering "duplicate". Both check the marker before touching anything,
so a reused id changes nothing there either.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from comeback.aws import dynamo, keys
from comeback.aws.reward_store import code_items_in_story
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.profile import (
    Merge,
    Profile,
    apply,
    delta,
    email_contact_id,
    email_key,
    empty,
    growth_limits,
    merge,
    merge_kind,
)
from comeback.recipes import engine
from comeback.recipes.base import Note

MAX_ATTEMPTS = 8
# `_try_fast`'s answer when a recipe must see the profile: no fast transaction was tried.
MUST_READ: list[dict[str, Any]] = []

# Every transaction of a shop event starts with the same items, in this order.
_SEEN, _HISTORY, _PROFILE = 0, 1, 2


class Outcome(enum.Enum):
    APPLIED = "applied"  # fast path: one transaction
    APPLIED_SLOW = "applied_slow"  # created, reordered, re-keyed or contended: merged in Python
    DUPLICATE = "duplicate"  # this event id was applied before: nothing changed
    IGNORED = "ignored"  # older than the contact's erasure: recorded, not applied
    ERASED = "erased"  # customer.deleted: personal data removed


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    contact_id: str
    profile: Profile | None = None  # known after the slow path only (the fast path reads nothing)


class ContactConflict(Exception):
    """Too many concurrent writers on one contact; the message is retried by the queue."""


class ContactStore:
    def __init__(self, ddb: Any, table: str, due_shards: int) -> None:
        self._ddb = ddb
        self._table = table
        self._shards = due_shards

    # -- reading -----------------------------------------------------------------------------
    def get(self, shop_id: str, contact_id: str, only: tuple[str, ...] | None = None) -> Profile | None:
        """The profile (consistent read); `only` names the fields wanted, to read less of it."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.PROFILE}),
            "ConsistentRead": True,
        }
        if only:
            names = {f"#p{i}": name for i, name in enumerate(("shop_id", "contact_id", *only))}
            request["ProjectionExpression"] = ", ".join(names)
            request["ExpressionAttributeNames"] = names
        typed = self._ddb.get_item(**request).get("Item")
        return stored(typed).profile if typed else None

    def resolve_email(self, shop_id: str, email: str) -> str | None:
        """The contact an email address belongs to, if any (one read)."""
        answer = self._ddb.get_item(
            TableName=self._table,
            Key=dynamo.item({keys.PK: keys.email_alias(shop_id, email_key(email)), keys.SK: keys.ALIAS}),
            ConsistentRead=True,
        )
        typed = answer.get("Item")
        return dynamo.plain(typed)["contact_id"] if typed else None

    def find(self, shop_id: str, customer: str, only: tuple[str, ...] | None = None) -> Profile | None:
        """A contact by the shop's customer id, or by email address (following merges)."""
        contact_id = (self.resolve_email(shop_id, customer) if "@" in customer else customer) or ""
        wanted = (*only, "merged_into") if only else None
        for _ in range(3):
            profile = self.get(shop_id, contact_id, wanted) if contact_id else None
            if profile is None or not profile.merged_into:
                return profile
            contact_id = profile.merged_into
        return None

    def story(self, shop_id: str, contact_id: str) -> list[dict[str, Any]]:
        """Every item of the contact's partition: profile, events, messages (one Query, paginated)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.contact(shop_id, contact_id)}},
        }
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(dynamo.plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- writing -----------------------------------------------------------------------------
    def apply(
        self,
        shop_id: str,
        event: ShopEvent,
        playbook: Playbook,
        now: datetime | None = None,
        decided: Decided | None = None,
    ) -> Applied:
        """Apply one shop event. When the recipes decide something on the slow path (a stage change,
        a code redeemed), `decided` is called with it before the write that records it, so what it
        announces is never lost to a crash (it may be announced again: its ids are deterministic)."""
        call = _Call(now or datetime.now(UTC), decided)
        ref = event.customer
        if ref.id:
            contact_id = ref.id
        else:
            assert ref.email  # the model guarantees an id or an email
            contact_id = self.resolve_email(shop_id, ref.email) or email_contact_id(ref.email)

        if event.type == "customer.deleted":
            return self._slow(shop_id, contact_id, event, None, playbook, False, call)
        if is_signup(event):
            created = self._try_create(shop_id, contact_id, event, playbook, call)
            if created is not None:
                return created

        reasons = self._try_fast(shop_id, contact_id, event, playbook)
        if reasons is None:
            return Applied(Outcome.APPLIED, contact_id)
        if reasons is MUST_READ:
            return self._slow(shop_id, contact_id, event, None, playbook, False, call)
        if seen_before(reasons):
            return Applied(Outcome.DUPLICATE, contact_id)
        old = reasons[_PROFILE].get("Item")
        return self._slow(shop_id, contact_id, event, old, playbook, True, call)

    def apply_delta(
        self,
        shop_id: str,
        contact_id: str,
        change: Profile | Callable[[Profile], Profile | None],
        dedupe_sk: str,
        playbook: Playbook,
        at: str,
    ) -> Applied:
        """Merge a change that is not a shop event (an SES event, an unsubscribe) into a contact.

        Read, merge, write on condition of the version, with a dedupe item in the same transaction
        so an event delivered twice (SES delivers at least once) changes nothing the second time.
        `change` may be a function of the stored profile (None: nothing to change), asked again on
        each attempt, so a change computed from the profile never overwrites a newer write.
        """
        for _ in range(MAX_ATTEMPTS):
            typed = self._get_typed(shop_id, contact_id)
            if typed is None:
                return Applied(Outcome.IGNORED, contact_id)
            current = stored(typed)
            if current.profile.merged_into:
                contact_id = current.profile.merged_into
                continue
            if current.profile.erased_at:
                return Applied(Outcome.IGNORED, contact_id)
            delta_now = change(current.profile) if callable(change) else change
            if delta_now is None:
                return Applied(Outcome.IGNORED, contact_id)
            updated = merge(current.profile, delta_now.model_copy(update={"contact_id": contact_id}))
            pk = keys.contact(shop_id, contact_id)
            # SES redelivers within hours; after 90 days the marker has done its job (table TTL)
            expires = int((parse_iso(at) + MARKER_LIFETIME).timestamp())
            marker = {keys.PK: pk, keys.SK: dedupe_sk, "occurred_at": at, keys.TTL: expires}
            try:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": dynamo.item(marker),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        self._profile_put(updated, current, playbook),
                    ]
                )
            except self._ddb.exceptions.TransactionCanceledException as exc:
                if dynamo.failed_condition(dynamo.cancellation_reasons(exc)[0]):
                    return Applied(Outcome.DUPLICATE, contact_id)
                continue
            return Applied(Outcome.APPLIED_SLOW, contact_id, updated)
        raise ContactConflict(f"contact {contact_id} kept changing while applying {dedupe_sk}")

    def _try_create(
        self, shop_id: str, contact_id: str, event: ShopEvent, playbook: Playbook, call: _Call
    ) -> Applied | None:
        """A sign-up creates its contact in one transaction, with no read; None if it was not new."""
        profile = apply(empty(shop_id, contact_id, event.customer.id), event)
        decided = engine.on_event(None, profile, event, playbook, call.now)
        profile = decided.profile
        pk = keys.contact(shop_id, contact_id)
        items = [
            self._seen_put(shop_id, event),
            self._activity_put(pk, event),
            self._profile_put(profile, None, playbook),
        ]
        if profile.email_address:
            alias = {
                keys.PK: keys.email_alias(shop_id, email_key(profile.email_address)),
                keys.SK: keys.ALIAS,
                "contact_id": contact_id,
                "shop_id": shop_id,
            }
            items.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": dynamo.item(alias),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        items.extend(note_put(self._table, pk, note) for note in decided.notes)
        if decided.decided and call.decided is not None:
            call.decided(decided)
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = dynamo.cancellation_reasons(exc)
            if seen_before(reasons):
                return Applied(Outcome.DUPLICATE, contact_id)
            if dynamo.failed_condition(reasons[_PROFILE]):  # it existed: merge into what is there
                old = reasons[_PROFILE].get("Item")
                return self._slow(shop_id, contact_id, event, old, playbook, True, call)
            # the address belongs to a contact already: the slow path links or folds it in
            return self._slow(shop_id, contact_id, event, None, playbook, True, call)
        return Applied(Outcome.APPLIED_SLOW, contact_id, profile)

    def _try_fast(
        self, shop_id: str, contact_id: str, event: ShopEvent, playbook: Playbook
    ) -> list[dict[str, Any]] | None:
        """The one-transaction path; returns the cancellation reasons if it did not apply."""
        fast = engine.fast_plan(event, playbook)
        if fast is None:
            return MUST_READ  # a recipe must see the profile: the slow path reads it
        at = isoformat(event.occurred_at)
        update = FastUpdate()
        change = delta(event, shop_id, contact_id)
        update.add_delta(change, at)
        condition = (
            "attribute_exists(pk) AND #ls < :at AND attribute_not_exists(merged_into)"
            " AND attribute_not_exists(erased_at)"
        )
        condition += update.recipes(fast) + update.maps_exist()
        update.names["#ls"] = "last_seen_at"
        update.values[":at"] = dynamo.value(at)
        if change.email:
            # a new address needs its alias written: that is the slow path's job
            condition += " AND #email.#v = :email"
            update.names["#email"], update.names["#v"] = "email", "v"
            update.values[":email"] = dynamo.value(change.email["v"])
        for i, (name, most) in enumerate(growth_limits(change).items()):
            # a profile at one of its bounds is cut by the slow path's merge (profile.py)
            condition += f" AND (attribute_not_exists(#g{i}) OR size(#g{i}) <= :g{i})"
            update.names[f"#g{i}"], update.values[f":g{i}"] = name, dynamo.value(most)
        pk = keys.contact(shop_id, contact_id)
        try:
            self._ddb.transact_write_items(
                TransactItems=[
                    self._seen_put(shop_id, event),
                    self._activity_put(pk, event),
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": dynamo.item({keys.PK: pk, keys.SK: keys.PROFILE}),
                            "UpdateExpression": update.expression(),
                            "ConditionExpression": condition,
                            "ExpressionAttributeNames": update.names,
                            "ExpressionAttributeValues": update.values,
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                ]
            )
        except self._ddb.exceptions.TransactionCanceledException as exc:
            return dynamo.cancellation_reasons(exc)
        return None

    def _slow(
        self,
        shop_id: str,
        contact_id: str,
        event: ShopEvent,
        old: dict[str, Any] | None,
        playbook: Playbook,
        known: bool,
        call: _Call,
    ) -> Applied:
        for _ in range(MAX_ATTEMPTS):
            if not known:
                old = self._get_typed(shop_id, contact_id)
            current = stored(old) if old else None
            if current and current.profile.merged_into:
                contact_id, known = current.profile.merged_into, False
                continue
            try:
                plan = self._plan_slow(shop_id, contact_id, event, current, playbook, call)
            except _SeenBefore:
                return Applied(Outcome.DUPLICATE, contact_id)
            if plan.decided is not None and call.decided is not None:
                call.decided(plan.decided)
            try:
                self._ddb.transact_write_items(TransactItems=plan.items)
            except self._ddb.exceptions.TransactionCanceledException as exc:
                reasons = dynamo.cancellation_reasons(exc)
                if seen_before(reasons):
                    return Applied(Outcome.DUPLICATE, contact_id)
                # someone changed the profile (or an alias) first: start again from what they wrote
                profile_failed = len(reasons) > _PROFILE and dynamo.failed_condition(reasons[_PROFILE])
                old = reasons[_PROFILE].get("Item") if profile_failed else None
                known = old is not None
                continue
            return Applied(plan.outcome, contact_id, plan.profile)
        raise ContactConflict(f"contact {contact_id} changed {MAX_ATTEMPTS} times while applying {event.id}")

    # -- the slow path, planned --------------------------------------------------------------
    def _plan_slow(
        self,
        shop_id: str,
        contact_id: str,
        event: ShopEvent,
        current: Stored | None,
        playbook: Playbook,
        call: _Call,
    ) -> _SlowPlan:
        pk = keys.contact(shop_id, contact_id)
        base = current.profile if current else empty(shop_id, contact_id, event.customer.id)
        if event.type == "customer.deleted":
            return self._plan_erasure(shop_id, contact_id, event, current, playbook)
        items: list[dict[str, Any]] = [self._seen_put(shop_id, event), self._activity_put(pk, event)]
        if base.erased_at and isoformat(event.occurred_at) <= base.erased_at:
            # an event from before the erasure, arriving late: keep it from being applied ever
            items[_HISTORY] = self._activity_put(pk, event, minimal=True)
            return _SlowPlan(items, Outcome.IGNORED, None)

        updated = apply(base, event)
        email = updated.email_address
        alias_items: list[dict[str, Any]] = []
        if email and email != base.email_address:
            base, alias_items = self._link_email(shop_id, contact_id, email, base, event, playbook)
            updated = apply(base, event)
        decided = engine.on_event(current.profile if current else None, updated, event, playbook, call.now)
        updated = decided.profile
        items.append(self._profile_put(updated, current, playbook))
        items.extend(alias_items)
        items.extend(note_put(self._table, pk, note) for note in decided.notes)
        return _SlowPlan(items, Outcome.APPLIED_SLOW, updated, decided if decided.decided else None)

    def _link_email(
        self, shop_id: str, contact_id: str, email: str, base: Profile, event: ShopEvent, playbook: Playbook
    ) -> tuple[Profile, list[dict[str, Any]]]:
        """Point the email at this contact; fold in a contact that was known by this email only."""
        alias_pk = keys.email_alias(shop_id, email_key(email))
        owner = self.resolve_email(shop_id, email)
        if owner == contact_id:
            return base, []
        alias = {
            "Put": {
                "TableName": self._table,
                "Item": dynamo.item(
                    {keys.PK: alias_pk, keys.SK: keys.ALIAS, "contact_id": contact_id, "shop_id": shop_id}
                ),
                "ConditionExpression": (
                    "attribute_not_exists(pk)" if owner is None else "contact_id = :owner"
                ),
                **({"ExpressionAttributeValues": {":owner": dynamo.value(owner)}} if owner else {}),
            }
        }
        if owner is None or not owner.startswith("~"):
            # unknown address, or it belonged to another customer id: the latest claim wins
            return base, [alias]
        typed = self._get_typed(shop_id, owner)
        other = stored(typed) if typed else None
        if other is None or other.profile.merged_into or other.profile.erased_at:
            return base, [alias]
        # A contact known by this email alone is this customer: one contact from now on. Its history
        # moves before the transaction that tombstones it; until then its profile keeps the counters,
        # so after a crash the redelivery folds again whatever is left, and nothing is left after.
        if self.seen(shop_id, event.id):
            raise _SeenBefore  # a reused event id must not move anything
        self._move_history(shop_id, owner, contact_id)
        folded = other.profile.model_copy(update={"contact_id": contact_id, "customer_id": None})
        merged = merge(base, folded)
        tombstone = empty(shop_id, owner).model_copy(update={"merged_into": contact_id})
        return merged, [alias, self._profile_put(tombstone, other, playbook)]

    def _plan_erasure(
        self, shop_id: str, contact_id: str, event: ShopEvent, current: Stored | None, playbook: Playbook
    ) -> _SlowPlan:
        """customer.deleted: keep a tombstone with no personal data, remove the rest.

        The removal comes first and is idempotent; the tombstone and the event's marker are written
        last, in one transaction, with the alias the event may have been resolved by (so that a
        redelivery after a crash still finds this contact and erases whatever is left).
        """
        if self.seen(shop_id, event.id):
            raise _SeenBefore  # a reused event id must not erase anything
        at = isoformat(event.occurred_at)
        before = current.profile if current else None
        erased_at = max(at, before.erased_at or "") if before else at
        tombstone = empty(shop_id, contact_id).model_copy(update={"erased_at": erased_at, "last_seen_at": at})
        # message items stay: they carry no personal data and keep every message sent at most once
        history = [
            e
            for e in self.story(shop_id, contact_id)
            if e[keys.SK] != keys.PROFILE and not e[keys.SK].startswith("MSG#")
        ]
        # every address the contact was known by (the profile keeps the latest only): the aliases
        # go before the history that names them, so a crash in between cannot orphan one
        addresses = {email_key(e): e for e in _addresses(history)}
        if before and before.email_address:
            addresses[email_key(before.email_address)] = before.email_address
        resolved_by = email_key(event.customer.email) if event.customer.email else None
        owned = [k for k, e in addresses.items() if self.resolve_email(shop_id, e) == contact_id]
        self._batch_write(
            [_delete(keys.email_alias(shop_id, k), keys.ALIAS) for k in owned if k != resolved_by]
        )
        # a reward's code index item lives outside the partition: it goes before the reward naming it
        self._batch_write([_delete(k[keys.PK], k[keys.SK]) for k in code_items_in_story(shop_id, history)])
        self._batch_write([_delete(e[keys.PK], e[keys.SK]) for e in history])

        pk = keys.contact(shop_id, contact_id)
        items = [
            self._seen_put(shop_id, event),
            self._activity_put(pk, event, minimal=True),
            self._profile_put(tombstone, current, playbook),
        ]
        if resolved_by and self.resolve_email(shop_id, event.customer.email or "") == contact_id:
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": dynamo.item(
                            {keys.PK: keys.email_alias(shop_id, resolved_by), keys.SK: keys.ALIAS}
                        ),
                        "ConditionExpression": "contact_id = :me",
                        "ExpressionAttributeValues": {":me": dynamo.value(contact_id)},
                    }
                }
            )
        return _SlowPlan(items, Outcome.ERASED, tombstone)

    # -- item builders -----------------------------------------------------------------------
    def _seen_put(self, shop_id: str, event: ShopEvent) -> dict[str, Any]:
        """The shop's marker of an event id: keys only, no personal data, so erasure keeps it.

        Kept forever (no TTL): docs/events.md promises that a repeated id changes nothing, and a shop's
        retry can come months later (a replayed export, an import run twice). At ~60 bytes it costs
        about 0.03 USD a month per million events stored.
        """
        return {
            "Put": {
                "TableName": self._table,
                "Item": dynamo.item({keys.PK: keys.seen_event(shop_id, event.id), keys.SK: keys.SEEN}),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _activity_put(self, pk: str, event: ShopEvent, minimal: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            keys.PK: pk,
            keys.SK: keys.event(event.id),
            "type": event.type,
            "occurred_at": isoformat(event.occurred_at),
        }
        if not minimal:
            # the event as the JSON text it came in: never queried inside, and far cheaper to store
            # and to read back than a nested map
            body["event"] = event.model_dump_json(exclude_none=True)
        return {
            "Put": {
                "TableName": self._table,
                "Item": dynamo.item(body),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _profile_put(self, profile: Profile, current: Stored | None, playbook: Playbook) -> dict[str, Any]:
        """The whole profile, on condition nobody wrote it since we saw it."""
        version = current.version if current else 0
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": self.profile_item(profile, version + 1, playbook),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if current is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": dynamo.value(version)}
        return {"Put": put}

    def profile_item(self, profile: Profile, version: int, playbook: Playbook) -> dict[str, Any]:
        profile = engine.with_dues(profile, playbook)
        body = profile.model_dump(mode="python")
        body.update({keys.PK: keys.contact(profile.shop_id, profile.contact_id), keys.SK: keys.PROFILE})
        body["version"] = version
        # The shard is the profile's for life; being on the due index is having a due_at.
        body[keys.DUE_PK] = keys.due_shard(profile.shop_id, profile.contact_id, self._shards)
        body[keys.BUYER_PK] = keys.buyer_shard(profile.shop_id, profile.contact_id, self._shards)
        due = engine.due_at(profile)
        if due is not None:
            body[keys.DUE_AT] = due
        return dynamo.item(body)

    def _get_typed(self, shop_id: str, contact_id: str) -> dict[str, Any] | None:
        answer = self._ddb.get_item(
            TableName=self._table,
            Key=dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.PROFILE}),
            ConsistentRead=True,
        )
        return answer.get("Item")  # type: ignore[no-any-return]

    # -- merges and erasure: rare, and allowed to read ----------------------------------------
    def seen(self, shop_id: str, event_id: str) -> bool:
        """Whether the shop's event id was applied already (one consistent read)."""
        answer = self._ddb.get_item(
            TableName=self._table,
            Key=dynamo.item({keys.PK: keys.seen_event(shop_id, event_id), keys.SK: keys.SEEN}),
            ConsistentRead=True,
        )
        return "Item" in answer

    def _move_history(self, shop_id: str, source: str, target: str) -> None:
        """Copy a contact's history into another contact's partition, then delete what was copied.

        Idempotent puts, then deletes of exactly the items copied: an item written to the source in
        between stays there (its profile's version moved, so the fold's transaction fails and the
        next attempt moves it too).
        """
        target_pk = keys.contact(shop_id, target)
        entries = [e for e in self.story(shop_id, source) if e[keys.SK] != keys.PROFILE]
        self._batch_write([{"PutRequest": {"Item": dynamo.item({**e, keys.PK: target_pk})}} for e in entries])
        self._batch_write([_delete(e[keys.PK], e[keys.SK]) for e in entries])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._table: requests[start : start + 25]}
            for _ in range(MAX_ATTEMPTS):
                answer = self._ddb.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise ContactConflict("DynamoDB kept items unprocessed")


@dataclass
class _SlowPlan:
    """One transaction that finishes the event: nothing may be left to do after it."""

    items: list[dict[str, Any]]
    outcome: Outcome
    profile: Profile | None
    decided: engine.Outcome | None = None


Decided = Callable[[engine.Outcome], None]


@dataclass(frozen=True)
class _Call:
    """What one `apply` call carries down its paths (the store itself is shared by threads)."""

    now: datetime
    decided: Decided | None


class _SeenBefore(Exception):
    """The event id was applied before: stop before changing anything."""


def seen_before(reasons: list[dict[str, Any]]) -> bool:
    """A cancelled event transaction failed on the shop's id marker or on the contact's history item
    (the item that deduped before the markers existed)."""
    return any(dynamo.failed_condition(r) for r in reasons[_SEEN : _HISTORY + 1])


def note_put(table: str, pk: str, note: Note) -> dict[str, Any]:
    """A recipe's line in the contact's activity (a stage change ...), as a transaction item."""
    body = {keys.PK: pk, keys.SK: keys.note(note.at, note.kind), "type": note.kind, "occurred_at": note.at}
    body["detail"] = json.dumps(note.detail, sort_keys=True)
    return {"Put": {"TableName": table, "Item": dynamo.item(body)}}


def _delete(pk: str, sk: str) -> dict[str, Any]:
    return {"DeleteRequest": {"Key": dynamo.item({keys.PK: pk, keys.SK: sk})}}


def _addresses(history: list[dict[str, Any]]) -> set[str]:
    """Every email address the events of a contact's history name."""
    found: set[str] = set()
    for entry in history:
        if "event" not in entry:
            continue
        body = json.loads(entry["event"])
        for address in (body.get("customer", {}).get("email"), body.get("data", {}).get("email")):
            if isinstance(address, str):
                found.add(address)
    return found


MARKER_LIFETIME = timedelta(days=90)


def is_signup(event: ShopEvent) -> bool:
    """A customer.updated that says the customer signed up just now: almost surely a new contact."""
    signed_up = getattr(event.data, "signed_up_at", None)
    return (
        event.type == "customer.updated"
        and event.customer.id is not None
        and signed_up is not None
        and abs((event.occurred_at - signed_up).total_seconds()) <= 3600
    )


@dataclass(frozen=True)
class Stored:
    """A profile as read, with the version its next write must be conditioned on."""

    profile: Profile
    version: int


def stored(typed: dict[str, Any]) -> Stored:
    body = dynamo.plain(typed)
    return Stored(Profile.model_validate(body), int(body.get("version", 0)))


class FastUpdate:
    """Builds the one UpdateExpression that merges a delta into a profile known to be older."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.removes: list[str] = []
        self.maps: list[str] = []  # map attributes the update writes entries of
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _name(self, name: str) -> str:
        alias = f"#n{len(self.names)}"
        self.names[alias] = name
        return alias

    def _value(self, python: Any) -> str:
        alias = f":v{len(self.values)}"
        self.values[alias] = dynamo.value(python)
        return alias

    def add_delta(self, change: Profile, at: str) -> None:
        for field in Profile.model_fields:
            kind = merge_kind(field)
            value = getattr(change, field)
            if kind is Merge.KEEP or value in (None, 0, {}, set()):
                continue
            path = self._name(field)
            if kind is Merge.SUM:
                self.adds.append(f"{path} {self._value(value)}")
            elif kind in (Merge.MIN, Merge.FIRST):
                # the fast path's event is newer than all the contact has seen: a stored first stays
                self.sets.append(f"{path} = if_not_exists({path}, {self._value(value)})")
            elif kind in (Merge.MAX, Merge.LWW):
                self.sets.append(f"{path} = {self._value(value)}")
            elif kind is Merge.UNION:
                self.adds.append(f"{path} {self._value(set(value))}")
            elif kind is Merge.MAP_SUM:
                self.maps.append(path)
                for key, amount in value.items():
                    entry = f"{path}.{self._name(key)}"
                    self.sets.append(
                        f"{entry} = if_not_exists({entry}, {self._value(0)}) + {self._value(amount)}"
                    )
            elif kind is Merge.MAP_LWW:
                self.maps.append(path)
                for key, entry_value in value.items():
                    self.sets.append(f"{path}.{self._name(key)} = {self._value(entry_value)}")
        self.adds.append(f"{self._name('version')} {self._value(1)}")

    def recipes(self, fast: engine.FastPlan) -> str:
        """Move the due times the event changes; returns the condition under which that is right.

        Each recipe the event moves gets its exact new due time (`dues.<recipe>`); the contact's
        own (`due_at`, on the sparse index) becomes the earliest of them, on condition that no
        recipe whose due time the event keeps is due earlier, and that the stored states are those
        the recipes' answers assume. Otherwise the slow path decides, with the whole profile."""
        conditions = ""
        dues = self._name("dues") if fast.dues or (fast.candidate is not None and fast.kept) else ""
        for name, due in fast.dues.items():
            entry = f"{dues}.{self._name(name)}"
            if due is None:
                self.removes.append(entry)
            else:
                self.sets.append(f"{entry} = {self._value(isoformat(due))}")
        candidate = fast.candidate
        if candidate is not None:
            self.sets.append(f"{self._name(keys.DUE_AT)} = {self._value(isoformat(candidate))}")
            stamp = self._value(isoformat(candidate))
            for name in fast.kept:
                entry = f"{dues}.{self._name(name)}"
                conditions += f" AND (attribute_not_exists({entry}) OR {entry} >= {stamp})"
        elif fast.dues:
            # every recipe the event moves has nothing pending: the contact is due when the kept are
            conditions += f" AND attribute_not_exists({self._name(keys.DUE_AT)})" if not fast.kept else ""
        states = self._name("recipes") if fast.requires else ""
        for name, required in fast.requires.items():
            for key, allowed in required.items():
                path = f"{states}.{self._name(name)}.{self._name('v')}.{self._name(key)}"
                options = ", ".join(self._value(v) for v in allowed)
                conditions += f" AND {path} IN ({options})"
        return conditions

    def maps_exist(self) -> str:
        """An entry can only be set inside a map that exists: a profile stored before a map field was
        added lacks it, and the slow path writes the whole profile (with the map) instead."""
        return "".join(f" AND attribute_exists({path})" for path in self.maps)

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        return " ".join(parts)
