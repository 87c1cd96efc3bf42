"""The reward ledger in DynamoDB (`comeback.domain.rewards.RewardStore`), low-level client.

Three kinds of item (keys.py):

- the reward, `REWARD#{recipe}#{step}#{period}` in the contact's partition, so the contact's story
  (one Query) shows it, and so it is never issued twice: it is put on `attribute_not_exists`;
- its code, `SHOP#{shop}#CODE#{CODE}` (upper-cased), pointing at the contact and the reward's key,
  put in the same transaction on `attribute_not_exists`: a code is unique in the shop whoever
  issues it, and a reward and its code exist together or not at all;
- a pool's codes, `SHOP#{shop}#POOL#{pool}` / `#{CODE}`. Drawing one is a Query (Limit 1), then
  the same transaction with a Delete of the pool item on `attribute_exists`: of two issuers that
  read the same code, one transaction wins and the other draws again.

A cancelled transaction says which condition failed (its cancellation reasons): the reward
existed (someone issued it meanwhile: return theirs), the code was taken (generate another, or
drop the stale pool item), or the pool item was gone (draw again).

The reward's expiry is stored as `valid_until`, not `expires_at`: that name is the table's TTL
attribute, and a ledger item must never be deleted by TTL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from comeback.aws import dynamo, keys
from comeback.domain.clock import isoformat
from comeback.domain.rewards import (
    DEFAULT_PREFIX,
    CodesExhausted,
    PoolEmpty,
    Reward,
    RewardError,
    RewardRequest,
    RewardState,
    new_code,
    normalise_code,
    pool_codes,
)

# How many times `issue` tries before giving up. A generated code collides with probability
# (codes in use) / 2^40 per try; a pool draw retries when a concurrent issuer took its code.
MAX_ATTEMPTS = 25
_VALID_UNTIL = "valid_until"
_TIMES = ("issued_at", "expires_at", "redeemed_at", "expired_at", "reminded_at")
_BATCH_GET, _BATCH_WRITE = 100, 25
# Characters a normalised pool code may start with, in key order: where a draw starts reading.
_CODE_START = sorted("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def reward_item(reward: Reward) -> dict[str, Any]:
    """The reward as a plain item of its contact's partition."""
    body = reward.model_dump(mode="json", exclude={"expires_at"})
    for name in _TIMES:
        value = getattr(reward, name)
        body[name] = isoformat(value) if value else None
    body[_VALID_UNTIL] = body.pop("expires_at")
    return {
        keys.PK: keys.contact(reward.shop_id, reward.contact_id),
        keys.SK: keys.reward(reward.key),
        **body,
    }


def reward_from_item(plain: dict[str, Any]) -> Reward:
    body = {k: v for k, v in plain.items() if k not in (keys.PK, keys.SK)}
    body["expires_at"] = body.pop(_VALID_UNTIL)
    return Reward.model_validate(body)


def code_key(shop_id: str, code: str) -> dict[str, str]:
    """The (plain) key of a code's index item."""
    return {keys.PK: keys.reward_code(shop_id, normalise_code(code)), keys.SK: keys.CODE}


def code_items_of(rewards: Iterable[Reward]) -> list[dict[str, str]]:
    """The keys of the code index items of these rewards: they live outside the contact's
    partition, so an erasure that deletes the partition must delete these as well."""
    return [code_key(r.shop_id, r.code) for r in rewards]


def code_items_in_story(shop_id: str, story: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The same, from the plain items of a contact's partition (what `ContactStore.story` reads)."""
    return [
        code_key(shop_id, str(item["code"]))
        for item in story
        if str(item.get(keys.SK, "")).startswith(keys.REWARD_PREFIX) and item.get("code")
    ]


class DynamoRewardStore:
    def __init__(self, ddb: Any, table: str, rng: random.Random | None = None, code_length: int = 8) -> None:
        self._ddb = ddb
        self._table = table
        # a secure source by default: a code is worth money and must not be predictable
        self._rng = rng or random.SystemRandom()
        self._code_length = code_length

    # -- reading ---------------------------------------------------------------------------
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self._ddb.get_item(
            TableName=self._table, Key=dynamo.item({keys.PK: pk, keys.SK: sk}), ConsistentRead=True
        )
        typed = answer.get("Item")
        return dynamo.plain(typed) if typed else None

    def get(self, shop_id: str, contact_id: str, key: str) -> Reward | None:
        plain = self._get(keys.contact(shop_id, contact_id), keys.reward(key))
        return reward_from_item(plain) if plain else None

    def find_code(self, shop_id: str, code: str) -> Reward | None:
        normalised = normalise_code(code)
        if not normalised:
            return None
        index = self._get(keys.reward_code(shop_id, normalised), keys.CODE)
        if index is None:
            return None
        # None too when the reward is gone (an erased contact) and only its code was left
        return self.get(shop_id, str(index["contact_id"]), str(index["reward_key"]))

    def for_contact(self, shop_id: str, contact_id: str) -> list[Reward]:
        found = [
            reward_from_item(item)
            for item in self._query(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :reward)",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.contact(shop_id, contact_id)},
                    ":reward": {"S": keys.REWARD_PREFIX},
                },
                ConsistentRead=True,
            )
        ]
        return sorted(found, key=lambda r: (r.issued_at, r.key))

    def pool_size(self, shop_id: str, pool: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.code_pool(shop_id, pool)}},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        count = 0
        while True:
            page = self._ddb.query(**kwargs)
            count += int(page.get("Count", 0))
            if "LastEvaluatedKey" not in page:
                return count
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        while True:
            page = self._ddb.query(**kwargs)
            yield from (dynamo.plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- issuing ---------------------------------------------------------------------------
    def issue(self, request: RewardRequest, code_prefix: str = DEFAULT_PREFIX) -> Reward:
        # one read first: asked again (a redelivery, another sweep), no code is drawn or made
        existing = self.get(request.shop_id, request.contact_id, request.key)
        if existing is not None:
            return existing
        pool = request.offer.pool
        for _ in range(MAX_ATTEMPTS):
            if pool is None:
                code, pool_sk = new_code(code_prefix, self._code_length, self._rng), None
            else:
                drawn = self._peek_pool(request.shop_id, pool)
                if drawn is None:
                    raise PoolEmpty(request.shop_id, pool)
                code, pool_sk = drawn
            reward = Reward.issue(request, code)
            outcome = self._write(reward, pool_sk)
            if outcome == _WON:
                return reward
            if outcome == _REWARD_EXISTS:
                found = self.get(request.shop_id, request.contact_id, request.key)
                if found is not None:
                    return found
            elif outcome == _CODE_TAKEN and pool is not None and pool_sk is not None:
                # a pool code that was issued already (uploaded again after its draw): never
                # hand it out twice, and stop finding it first
                self._drop_pool_item(request.shop_id, pool, pool_sk)
            # _CODE_TAKEN (generated), _POOL_ITEM_GONE, _CONTENDED: try again with a fresh code
        if pool is None:
            raise CodesExhausted(f"no free code after {MAX_ATTEMPTS} tries for shop {request.shop_id!r}")
        raise RewardError(f"pool {pool!r} of shop {request.shop_id!r} too contended: try again")

    def _peek_pool(self, shop_id: str, pool: str) -> tuple[str, str] | None:
        """A code of the pool (its original spelling and its sort key), not yet taken.

        The read starts at a random point of the pool and wraps round: concurrent issuers then
        mostly read different codes instead of all racing for the first one."""
        pk = {":pk": {"S": keys.code_pool(shop_id, pool)}}
        start = keys.pool_code(self._rng.choice(_CODE_START))
        for condition, values in (
            ("pk = :pk AND sk >= :start", {**pk, ":start": {"S": start}}),
            ("pk = :pk", pk),
        ):
            page = self._ddb.query(
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                Limit=1,
                ConsistentRead=True,
            )
            for typed in page.get("Items", []):
                item = dynamo.plain(typed)
                return str(item["code"]), str(item[keys.SK])
        return None

    def _write(self, reward: Reward, pool_sk: str | None) -> str:
        """Put the reward and its code (and take the pool item) in one transaction."""
        new = "attribute_not_exists(pk)"
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dynamo.item(reward_item(reward)),
                    "ConditionExpression": new,
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": dynamo.item(
                        {
                            **code_key(reward.shop_id, reward.code),
                            "shop_id": reward.shop_id,
                            "contact_id": reward.contact_id,
                            "reward_key": reward.key,
                            "code": reward.code,
                        }
                    ),
                    "ConditionExpression": new,
                }
            },
        ]
        if pool_sk is not None and reward.pool is not None:
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": dynamo.item(
                            {keys.PK: keys.code_pool(reward.shop_id, reward.pool), keys.SK: pool_sk}
                        ),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=items)
        except self._ddb.exceptions.TransactionCanceledException as exc:
            reasons = [*dynamo.cancellation_reasons(exc), {}, {}, {}]
            if dynamo.failed_condition(reasons[0]):
                return _REWARD_EXISTS
            if dynamo.failed_condition(reasons[1]):
                return _CODE_TAKEN
            if dynamo.failed_condition(reasons[2]):
                return _POOL_ITEM_GONE
            return _CONTENDED  # TransactionConflict: another transaction held one of the items
        return _WON

    def _drop_pool_item(self, shop_id: str, pool: str, pool_sk: str) -> None:
        self._ddb.delete_item(
            TableName=self._table,
            Key=dynamo.item({keys.PK: keys.code_pool(shop_id, pool), keys.SK: pool_sk}),
        )

    # -- changing --------------------------------------------------------------------------
    def _transition(
        self,
        shop_id: str,
        contact_id: str,
        key: str,
        sets: dict[str, Any],
        condition: str,
        values: dict[str, Any],
    ) -> Reward | None:
        names = {f"#f{i}": name for i, name in enumerate(sets)}
        assignments = ", ".join(f"#f{i} = :f{i}" for i in range(len(sets)))
        typed_values = {f":f{i}": dynamo.value(v) for i, v in enumerate(sets.values())}
        typed_values.update({k: dynamo.value(v) for k, v in values.items()})
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.reward(key)}),
                UpdateExpression=f"SET {assignments}",
                ConditionExpression=condition,
                ExpressionAttributeNames={**names, "#state": "state"},
                ExpressionAttributeValues=typed_values,
                ReturnValues="ALL_NEW",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return reward_from_item(dynamo.plain(answer["Attributes"]))

    def redeem(self, shop_id: str, code: str, order_id: str, at: datetime) -> Reward | None:
        # Past its expiry too (see Reward.redeemed): the platform took the code, so it was used.
        index = (
            self._get(keys.reward_code(shop_id, normalise_code(code)), keys.CODE) if code.strip() else None
        )
        if index is None:
            return None
        return self._transition(
            shop_id,
            str(index["contact_id"]),
            str(index["reward_key"]),
            {"state": RewardState.REDEEMED.value, "redeemed_at": isoformat(at), "order_id": order_id},
            "attribute_exists(pk) AND #state = :issued",
            {":issued": RewardState.ISSUED.value},
        )

    def expire(self, shop_id: str, contact_id: str, key: str, now: datetime) -> Reward | None:
        return self._transition(
            shop_id,
            contact_id,
            key,
            {"state": RewardState.EXPIRED.value, "expired_at": isoformat(now)},
            # both instants are isoformat() strings: as text they sort as time does
            f"attribute_exists(pk) AND #state = :issued AND {_VALID_UNTIL} <= :now",
            {":issued": RewardState.ISSUED.value, ":now": isoformat(now)},
        )

    def mark_reminded(self, shop_id: str, contact_id: str, key: str, now: datetime) -> bool:
        marked = self._transition(
            shop_id,
            contact_id,
            key,
            {"reminded_at": isoformat(now)},
            "attribute_exists(pk) AND #state = :issued AND attribute_not_exists(reminded_at)",
            {":issued": RewardState.ISSUED.value},
        )
        return marked is not None

    # -- pools -----------------------------------------------------------------------------
    def upload_pool(self, shop_id: str, pool: str, codes: list[str]) -> int:
        """Add the codes that are new: neither in the pool nor issued before (read in batches).

        Two uploads racing may both count a code as new; the pool still holds it once (same key,
        same item), and the draw's transaction keeps it from being issued twice."""
        wanted = pool_codes(codes)
        pool_pk = keys.code_pool(shop_id, pool)
        present = self._existing(
            [{keys.PK: pool_pk, keys.SK: keys.pool_code(normalise_code(c))} for c in wanted]
            + [code_key(shop_id, c) for c in wanted]
        )
        new = [
            c
            for c in wanted
            if (pool_pk, keys.pool_code(normalise_code(c))) not in present
            and (keys.reward_code(shop_id, normalise_code(c)), keys.CODE) not in present
        ]
        puts = [
            {keys.PK: pool_pk, keys.SK: keys.pool_code(normalise_code(c)), "code": c, "pool": pool}
            for c in new
        ]
        self._batch_put(puts)
        return len(new)

    def _existing(self, wanted: list[dict[str, str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), _BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [dynamo.item(k) for k in wanted[start : start + _BATCH_GET]],
                    "ProjectionExpression": "pk, sk",
                    "ConsistentRead": True,
                }
            }
            for attempt in range(MAX_ATTEMPTS):
                _backoff(attempt)
                answer = self._ddb.batch_get_item(RequestItems=pending)
                for typed in answer.get("Responses", {}).get(self._table, []):
                    found.add((typed[keys.PK]["S"], typed[keys.SK]["S"]))
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
            else:
                raise RewardError("DynamoDB left keys unread after many tries: upload again")
        return found

    def _batch_put(self, items: list[dict[str, Any]]) -> None:
        for start in range(0, len(items), _BATCH_WRITE):
            pending: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": dynamo.item(i)}} for i in items[start : start + _BATCH_WRITE]
                ]
            }
            for attempt in range(MAX_ATTEMPTS):
                _backoff(attempt)
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise RewardError("DynamoDB left codes unwritten after many tries: upload again")


def _backoff(attempt: int) -> None:
    """Wait before retrying what a batch call left unprocessed (throttled): not on the first try."""
    if attempt:
        time.sleep(min(0.05 * 2**attempt, 2.0))


_WON, _REWARD_EXISTS, _CODE_TAKEN, _POOL_ITEM_GONE, _CONTENDED = (
    "won",
    "reward_exists",
    "code_taken",
    "pool_item_gone",
    "contended",
)
