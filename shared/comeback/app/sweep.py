"""The scheduled sweep: read what is due from the due index, ask for its messages, move it on.

Two kinds of items are due: profiles (a win-back step has come) and held messages (a frequency
cap or quiet hours kept them back until now).

Each shard of the sparse `due` index is queried for `due_at <= now`; the index projects whole
profiles, so one item read per due contact is all the sweep needs. For each, `lifecycle.plan`
decides; the messages go to the outbox first and the profile's progress and next due time are
written after, on condition that the profile did not change in between. A crash in between or an
overlapping sweep therefore asks for a message twice, and the sender's exactly-once key keeps it
to one email.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comeback.app.observability import count, logger
from comeback.app.settings import Settings
from comeback.aws import dynamo, keys
from comeback.aws.contact_store import stored
from comeback.aws.message_store import MessageStore
from comeback.aws.outbox import Outbox
from comeback.aws.shops import ShopDirectory
from comeback.domain.clock import Clock, isoformat
from comeback.domain.messages import MessageRequest
from comeback.recipes import lifecycle

PAGE = 100


@dataclass
class SweepReport:
    shards: int = 0
    due: int = 0
    messages: int = 0
    advanced: int = 0
    released: int = 0  # held messages (caps, quiet hours) put back on the outbox
    contended: int = 0
    items_read: int = 0
    campaigns: dict[str, int] = field(default_factory=dict)
    not_asked: dict[str, int] = field(default_factory=dict)
    finished: bool = True

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Sweep:
    def __init__(
        self, ddb: Any, settings: Settings, shops: ShopDirectory, outbox: Outbox, clock: Clock
    ) -> None:
        self._ddb = ddb
        self._settings = settings
        self._shops = shops
        self._outbox = outbox
        self._clock = clock
        self._messages = MessageStore(ddb, settings.table_name)

    def run(
        self, shards: list[str] | None = None, time_left: Callable[[], float] | None = None
    ) -> SweepReport:
        """Sweep every shard (or the ones given) until done or `time_left()` runs under 10 s."""
        now = self._clock.now()
        report = SweepReport()
        for shard in shards or keys.all_due_shards(self._settings.due_shards):
            report.shards += 1
            if not self._sweep_shard(shard, now, report, time_left or (lambda: float("inf"))):
                report.finished = False
                break
        logger.info("sweep finished", extra=report.as_dict())
        count("ContactsDue", report.due)
        count("MessagesRequested", report.messages)
        count("HeldMessagesReleased", report.released)
        return report

    def _sweep_shard(
        self, shard: str, now: datetime, report: SweepReport, time_left: Callable[[], float]
    ) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self._settings.table_name,
            "IndexName": keys.DUE_INDEX,
            "KeyConditionExpression": "#pk = :shard AND #at <= :now",
            "ExpressionAttributeNames": {"#pk": keys.DUE_PK, "#at": keys.DUE_AT},
            "ExpressionAttributeValues": {":shard": {"S": shard}, ":now": {"S": isoformat(now)}},
            "Limit": PAGE,
            "ReturnConsumedCapacity": "TOTAL",
        }
        while True:
            if time_left() < 10:
                return False
            page = self._ddb.query(**kwargs)
            report.items_read += int(page.get("ScannedCount", 0))
            self._handle_page(page.get("Items", []), now, report)
            if "LastEvaluatedKey" not in page:
                return True
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _handle_page(self, items: list[dict[str, Any]], now: datetime, report: SweepReport) -> None:
        """Plan every due contact of a page, ask for all their messages, then move each one on."""
        held = [item for item in items if item[keys.SK]["S"].startswith(keys.HOLD_PREFIX)]
        if held:
            self._release(held, report)
        planned = []
        for item in items:
            if item[keys.SK]["S"].startswith(keys.HOLD_PREFIX):
                continue
            current = stored(item)
            report.due += 1
            plan = lifecycle.plan(current.profile, self._shops.playbook(current.profile.shop_id), now)
            planned.append((item, plan))
            for message in plan.messages:
                report.campaigns[message.campaign] = report.campaigns.get(message.campaign, 0) + 1
            for reason in plan.not_asked:
                report.not_asked[reason] = report.not_asked.get(reason, 0) + 1
        messages = [m for _, plan in planned for m in plan.messages]
        if messages:
            self._outbox.send(messages)  # first: a crash after this asks again, and the key dedupes
            report.messages += len(messages)
        for item, plan in planned:
            if self._advance(item, plan):
                report.advanced += 1
            else:
                report.contended += 1

    def _release(self, held: list[dict[str, Any]], report: SweepReport) -> None:
        """Put held messages whose time has come back on the outbox: one per contact and sweep,
        the most important first (a reward before a win-back before a survey); the others wait
        for the next sweep, when the sender decides again on what the first one left."""
        by_contact: dict[str, list[dict[str, Any]]] = {}
        for item in held:
            by_contact.setdefault(item[keys.PK]["S"], []).append(item)
        first = [
            min(items, key=lambda i: (int(i["priority"]["N"]), i[keys.DUE_AT]["S"]))
            for items in by_contact.values()
        ]
        requests = [MessageRequest.model_validate_json(item["request"]["S"]) for item in first]
        self._outbox.send(requests)  # first: a crash after this sends it again, and the key dedupes
        for item in first:
            self._messages.release_deferred(item[keys.PK]["S"], item[keys.SK]["S"], item[keys.DUE_AT]["S"])
        report.released += len(requests)

    def _advance(self, item: dict[str, Any], plan: lifecycle.Plan) -> bool:
        """Store progress and the next due time, unless the contact did something since we read it.

        Conditioned on the last activity and the win-back progress as read, not on the version:
        the sender taking a send slot moves the version too, and must not undo the sweep's work.
        The version still moves, so a contacts write that read the profile before retries."""
        sets, names = [], {"#v": "version", "#la": "last_activity_at", "#wbc": "winback"}
        values: dict[str, Any] = {":one": {"N": "1"}}
        conditions = ["attribute_exists(pk)"]
        if "last_activity_at" in item:
            conditions.append("#la = :la")
            values[":la"] = item["last_activity_at"]
        else:
            conditions.append("attribute_not_exists(#la)")
        if "winback" in item:
            conditions.append("#wbc.#id = :wbid AND #wbc.#at = :wbat")
            names["#id"], names["#at"] = "id", "at"
            values[":wbid"] = item["winback"]["M"]["id"]
            values[":wbat"] = item["winback"]["M"]["at"]
        else:
            conditions.append("attribute_not_exists(#wbc)")
        if plan.winback is not None:
            sets.append("#wb = :wb")
            names["#wb"] = "winback"
            values[":wb"] = dynamo.value(plan.winback)
        if plan.next_due is not None:
            sets.append("#due = :due")
            names["#due"] = keys.DUE_AT
            values[":due"] = {"S": isoformat(plan.next_due)}
            expression = "SET " + ", ".join(sets) + " ADD #v :one"
        else:
            names["#dat"] = keys.DUE_AT  # without a due_at the profile is off the (sparse) index
            expression = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE #dat ADD #v :one"
        try:
            self._ddb.update_item(
                TableName=self._settings.table_name,
                Key={keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                UpdateExpression=expression,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
