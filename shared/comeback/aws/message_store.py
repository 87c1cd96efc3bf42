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

from comeback.aws import dynamo, keys
from comeback.domain.clock import isoformat
from comeback.domain.messages import MessageRequest


class Status(enum.StrEnum):
    CLAIMED = "claimed"  # SES is being called; final if the sender dies now
    SENT = "sent"
    SKIPPED = "skipped"  # not sent on purpose (consent, suppression, exit ...): final
    FAILED = "failed"  # SES refused it for good: final
    RETRY = "retry"  # SES throttled; the request is back on the queue


RECLAIMABLE = (Status.RETRY.value,)
# The claim lost because another message took the contact's send slot first (re-read and retry).
CONTENDED = "contended"


@dataclass(frozen=True)
class Claim:
    won: bool
    existing: str | None = None  # the status found when the claim was lost, or CONTENDED


@dataclass(frozen=True)
class SlotTaken:
    """The contact's recent sends with this message in them, and the counter they were read at."""

    sends: dict[str, Any]
    read_seq: int | None


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
        # what the reports group by: the copy chosen, the holdout (recorded, never sent), the timing
        if request.variant:
            body["variant"] = request.variant
        if request.holdout:
            body["holdout"] = True
        if request.timing:
            body["timing"] = request.timing
        return dynamo.item(body)

    def claim(self, request: MessageRequest, now: datetime, slot: SlotTaken | None = None) -> Claim:
        """Take the message's key; with `slot`, also take the contact's send slot, atomically."""
        put = {
            "TableName": self._table,
            "Item": self._record(request, Status.CLAIMED, now, claimed_at=isoformat(now)),
            "ConditionExpression": "attribute_not_exists(pk) OR #s IN (:retry)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":retry": {"S": Status.RETRY.value}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if slot is None:
            try:
                self._ddb.put_item(**put)
            except self._ddb.exceptions.ConditionalCheckFailedException as exc:
                return Claim(won=False, existing=_status(exc.response.get("Item")))
            return Claim(won=True)
        try:
            self._ddb.transact_write_items(TransactItems=[{"Put": put}, self._take_slot(request, slot)])
        except self._ddb.exceptions.TransactionCanceledException as exc:
            claim_reason, slot_reason = [*dynamo.cancellation_reasons(exc), {}, {}][:2]
            if dynamo.failed_condition(claim_reason):
                return Claim(won=False, existing=_status(claim_reason.get("Item")))
            if dynamo.failed_condition(slot_reason):
                return Claim(won=False, existing=CONTENDED)
            raise
        return Claim(won=True)

    def _take_slot(self, request: MessageRequest, slot: SlotTaken) -> dict[str, Any]:
        # Conditioned on the counter read with the sends: a sender that took a slot in between
        # moved it, and this claim is re-decided. `version` moves too, so a contacts write that
        # read the profile before us retries instead of putting the old sends back.
        if slot.read_seq is None:
            condition, values = "attribute_exists(pk) AND attribute_not_exists(#seq)", {}
        else:
            condition, values = "#seq = :seq", {":seq": dynamo.value(slot.read_seq)}
        return {
            "Update": {
                "TableName": self._table,
                "Key": dynamo.item(
                    {keys.PK: keys.contact(request.shop_id, request.contact_id), keys.SK: keys.PROFILE}
                ),
                "UpdateExpression": "SET #sends = :sends, #seq = :next ADD #v :one",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#sends": "sends", "#seq": "sends_seq", "#v": "version"},
                "ExpressionAttributeValues": {
                    ":sends": dynamo.value(slot.sends),
                    ":next": dynamo.value((slot.read_seq or 0) + 1),
                    ":one": dynamo.value(1),
                    **values,
                },
            }
        }

    def defer(self, request: MessageRequest, until: datetime, shard: str, now: datetime) -> None:
        """Hold a message on the due index until `until`; the sweep puts it back on the outbox then.

        One item per message key: asking again replaces the earlier wait, it never doubles it."""
        pk = keys.contact(request.shop_id, request.contact_id)
        body = {
            keys.PK: pk,
            keys.SK: keys.deferred(request.key),
            keys.DUE_PK: shard,
            keys.DUE_AT: isoformat(until),
            "priority": request.priority,
            "request": request.model_dump_json(),
            "deferred_at": isoformat(now),
        }
        self._ddb.put_item(TableName=self._table, Item=dynamo.item(body))

    def release_deferred(self, pk: str, sk: str, due_at: str) -> bool:
        """Take a held message off the index, unless it was held again (for later) meanwhile."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={keys.PK: {"S": pk}, keys.SK: {"S": sk}},
                ConditionExpression="#at = :at",
                ExpressionAttributeNames={"#at": keys.DUE_AT},
                ExpressionAttributeValues={":at": {"S": due_at}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

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


def _status(item: dict[str, Any] | None) -> str:
    return str((item or {}).get("status", {}).get("S", "unknown"))
