"""Message records in the contact's partition: the exactly-once ledger of the sender.

`MSG#{campaign}#{step}#{period}` is written *before* SES is called (a claim, conditional on no
record or a record that is waiting for a retry) and marked `sent` with SES's message id after.
A record found `claimed` by someone else means a sender died between SES and the mark: the email
may have gone out, so it is flagged for an operator and never sent again.
"""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comeback import dynamo, keys
from comeback.clock import isoformat
from comeback.messages import MessageRequest


class Status(enum.StrEnum):
    CLAIMED = "claimed"  # SES is being called; final if the sender dies now
    SENT = "sent"
    SKIPPED = "skipped"  # not sent on purpose (consent, suppression, exit ...): final
    FAILED = "failed"  # SES refused it for good: final
    RETRY = "retry"  # SES throttled; the request is back on the queue


RECLAIMABLE = (Status.RETRY.value,)


@dataclass(frozen=True)
class Claim:
    won: bool
    existing: str | None = None  # the status found when the claim was lost


class MessageStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self._table = table

    def _key(self, request: MessageRequest) -> dict[str, Any]:
        return dynamo.item(
            {keys.PK: keys.contact(request.shop_id, request.contact_id), keys.SK: keys.message(request.key)}
        )

    def _record(self, request: MessageRequest, status: Status, now: datetime, **extra: Any) -> dict[str, Any]:
        body = {
            keys.PK: keys.contact(request.shop_id, request.contact_id),
            keys.SK: keys.message(request.key),
            "shop_id": request.shop_id,
            "contact_id": request.contact_id,
            "campaign": request.campaign,
            "step": request.step,
            "period": request.period,
            "topic": request.topic,
            "status": status.value,
            "requested_at": isoformat(request.requested_at),
            "updated_at": isoformat(now),
            **extra,
        }
        return dynamo.item(body)

    def claim(self, request: MessageRequest, now: datetime) -> Claim:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=self._record(request, Status.CLAIMED, now, claimed_at=isoformat(now)),
                ConditionExpression="attribute_not_exists(pk) OR #s IN (:retry)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":retry": {"S": Status.RETRY.value}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException as exc:
            old = exc.response.get("Item") or {}
            return Claim(won=False, existing=old.get("status", {}).get("S", "unknown"))
        return Claim(won=True)

    def skip(self, request: MessageRequest, reason: str, now: datetime) -> bool:
        """Record a deliberate non-send; never overwrites a record that exists."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=self._record(request, Status.SKIPPED, now, reason=reason),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _transition(self, request: MessageRequest, status: Status, now: datetime, **fields: Any) -> None:
        """Move our own claim on (only a claimed record can become sent, failed or retry)."""
        names = {"#s": "status", "#u": "updated_at"}
        values = {
            ":s": dynamo.value(status.value),
            ":u": dynamo.value(isoformat(now)),
            ":c": {"S": "claimed"},
        }
        sets = ["#s = :s", "#u = :u"]
        for i, (name, value) in enumerate(fields.items()):
            names[f"#f{i}"] = name
            values[f":f{i}"] = dynamo.value(value)
            sets.append(f"#f{i} = :f{i}")
        self._ddb.update_item(
            TableName=self._table,
            Key=self._key(request),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#s = :c",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def mark_sent(self, request: MessageRequest, ses_message_id: str, now: datetime) -> None:
        self._transition(request, Status.SENT, now, ses_message_id=ses_message_id, sent_at=isoformat(now))

    def mark_failed(self, request: MessageRequest, reason: str, now: datetime) -> None:
        self._transition(request, Status.FAILED, now, reason=reason)

    def release_for_retry(self, request: MessageRequest, reason: str, now: datetime) -> None:
        self._transition(request, Status.RETRY, now, reason=reason)

    def note(self, shop_id: str, contact_id: str, key: str, fields: dict[str, Any]) -> None:
        """Record what happened to a sent message (delivered_at, opened_at ...), first time only."""
        names, values, sets = {}, {}, []
        for i, (name, value) in enumerate(fields.items()):
            if value is None:
                continue
            names[f"#f{i}"] = name
            values[f":f{i}"] = dynamo.value(value)
            sets.append(f"#f{i} = if_not_exists(#f{i}, :f{i})")
        if not sets:
            return
        # a message we have no record of (an erased contact) has nothing to note
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._ddb.update_item(
                TableName=self._table,
                Key=dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.message(key)}),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def get(self, shop_id: str, contact_id: str, key: str) -> dict[str, Any] | None:
        answer = self._ddb.get_item(
            TableName=self._table,
            Key=dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.message(key)}),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return dynamo.plain(item) if item else None
