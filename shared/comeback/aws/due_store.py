"""The due index in DynamoDB: a sparse, write-sharded GSI (`due_pk`, `due_at`) projecting whole items.

A page is one Query of one shard for `due_at <= now`: profiles whose recipes are due and messages a
cap or quiet hours held back. The index projects the whole profile, so one item read per due
contact is all the sweep needs (the bench compares it with a Scan).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from comeback.aws import dynamo, keys
from comeback.aws.contact_store import note_put, stored
from comeback.aws.message_store import MessageStore
from comeback.domain.clock import isoformat
from comeback.domain.messages import MessageRequest
from comeback.domain.profile import Profile
from comeback.domain.stores import DueContact, DuePage, HeldMessage
from comeback.recipes import engine
from comeback.recipes.base import Note


class DynamoDueStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self._table = table
        self._messages = MessageStore(ddb, table)

    def page(self, shard: str, now: datetime, cursor: str | None, limit: int) -> DuePage:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": keys.DUE_INDEX,
            "KeyConditionExpression": "#pk = :shard AND #at <= :now",
            "ExpressionAttributeNames": {"#pk": keys.DUE_PK, "#at": keys.DUE_AT},
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"S": isoformat(now)}},
            "Limit": limit,
            "ReturnConsumedCapacity": "TOTAL",
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        answer = self._ddb.query(**kwargs)
        contacts, held = [], []
        for item in answer.get("Items", []):
            if item[keys.SK]["S"].startswith(keys.HOLD_PREFIX):
                request = MessageRequest.model_validate_json(item["request"]["S"])
                held.append(
                    HeldMessage(request, (item[keys.PK]["S"], item[keys.SK]["S"], item[keys.DUE_AT]["S"]))
                )
            else:
                contacts.append(DueContact(stored(item).profile, item))
        last = answer.get("LastEvaluatedKey")
        return DuePage(
            contacts,
            held,
            json.dumps(last, sort_keys=True) if last else None,
            int(answer.get("ScannedCount", 0)),
        )

    def release(self, held: HeldMessage) -> bool:
        pk, sk, due_at = held.read
        return self._messages.release_deferred(pk, sk, due_at)

    def advance(self, due: DueContact, after: Profile, changed: Sequence[str], notes: Sequence[Note]) -> bool:
        """Conditioned on the last activity and each changed recipe's state as read, not on the version:
        the sender taking a send slot moves the version too, and must not undo the sweep's work. The
        version still moves, so a contacts write that read the profile before retries."""
        item = due.read
        names: dict[str, str] = {"#v": "version", "#la": "last_activity_at", "#r": "recipes", "#d": "dues"}
        values: dict[str, Any] = {":one": {"N": "1"}}
        conditions = ["attribute_exists(pk)"]
        if "last_activity_at" in item:
            conditions.append("#la = :la")
            values[":la"] = item["last_activity_at"]
        else:
            conditions.append("attribute_not_exists(#la)")
        sets = ["#d = :dues"]
        values[":dues"] = dynamo.value(after.dues)
        before_states = item.get("recipes", {}).get("M", {})
        for i, name in enumerate(changed):
            names[f"#n{i}"] = name
            if name in before_states:
                names["#id"] = "id"
                conditions.append(f"#r.#n{i}.#id = :id{i}")
                values[f":id{i}"] = before_states[name]["M"]["id"]
            else:
                conditions.append(f"attribute_not_exists(#r.#n{i})")
            sets.append(f"#r.#n{i} = :s{i}")
            values[f":s{i}"] = dynamo.value(after.recipes[name])
        due_at = engine.due_at(after)
        names["#due"] = keys.DUE_AT
        if due_at is not None:
            sets.append("#due = :due")
            values[":due"] = {"S": due_at}
            expression = "SET " + ", ".join(sets) + " ADD #v :one"
        else:
            # without a due_at the profile is off the (sparse) index
            expression = "SET " + ", ".join(sets) + " REMOVE #due ADD #v :one"
        update = {
            "TableName": self._table,
            "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            if notes:
                self._ddb.transact_write_items(
                    TransactItems=[
                        {"Update": update},
                        *(note_put(self._table, item[keys.PK]["S"], n) for n in notes),
                    ]
                )
            else:
                self._ddb.update_item(**update)
        except (
            self._ddb.exceptions.ConditionalCheckFailedException,
            self._ddb.exceptions.TransactionCanceledException,
        ):
            return False
        return True
