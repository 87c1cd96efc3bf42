"""Follow-up tasks in DynamoDB (`comeback.domain.tasks.TaskStore`), low-level client.

A task is one item of its contact's partition, `TASK#{task_id}`, so the contact's story shows it and
an erasure (which deletes the partition) takes it too. It is put on `attribute_not_exists`: a task
id is a hash of the answer it follows, so asking twice stores it once. The sparse `tasks` index
(`task_pk` = the shop, `task_at` = created time and id) lists a shop's tasks newest first without
reading any contact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from comeback.aws import dynamo, keys
from comeback.domain.clock import isoformat
from comeback.domain.tasks import Task, TaskStatus

_CONDITION_FAILED = "ConditionalCheckFailedException"


def task_item(task: Task) -> dict[str, Any]:
    body = task.model_dump(mode="json")
    return {
        keys.PK: keys.contact(task.shop_id, task.contact_id),
        keys.SK: keys.task(task.task_id),
        keys.TASK_PK: keys.shop_tasks(task.shop_id),
        keys.TASK_AT: f"{body['created_at']}#{task.task_id}",
        **body,
    }


def task_from_item(plain: dict[str, Any]) -> Task:
    return Task.model_validate(
        {k: v for k, v in plain.items() if k not in (keys.PK, keys.SK, keys.TASK_PK, keys.TASK_AT)}
    )


class DynamoTaskStore:
    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self._table = table

    def _key(self, shop_id: str, contact_id: str, task_id: str) -> dict[str, Any]:
        return dynamo.item({keys.PK: keys.contact(shop_id, contact_id), keys.SK: keys.task(task_id)})

    def create(self, task: Task) -> Task:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=dynamo.item(task_item(task)),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": keys.PK},
            )
        except ClientError as exc:
            if dynamo.error_code(exc) != _CONDITION_FAILED:
                raise
            stored = self.get(task.shop_id, task.contact_id, task.task_id)
            if stored is not None:
                return stored
        return task

    def get(self, shop_id: str, contact_id: str, task_id: str) -> Task | None:
        answer = self._ddb.get_item(
            TableName=self._table, Key=self._key(shop_id, contact_id, task_id), ConsistentRead=True
        )
        typed = answer.get("Item")
        return task_from_item(dynamo.plain(typed)) if typed else None

    def list(self, shop_id: str, status: TaskStatus | None = None) -> list[Task]:
        tasks: list[Task] = []
        start: dict[str, Any] | None = None
        while True:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": keys.TASK_INDEX,
                "KeyConditionExpression": "#tpk = :shop",
                "ExpressionAttributeNames": {"#tpk": keys.TASK_PK},
                "ExpressionAttributeValues": {":shop": dynamo.value(keys.shop_tasks(shop_id))},
                "ScanIndexForward": False,
            }
            if status is not None:
                query["FilterExpression"] = "#status = :status"
                query["ExpressionAttributeNames"]["#status"] = "status"
                query["ExpressionAttributeValues"][":status"] = dynamo.value(status)
            if start:
                query["ExclusiveStartKey"] = start
            answer = self._ddb.query(**query)
            tasks.extend(task_from_item(dynamo.plain(item)) for item in answer.get("Items", []))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return tasks

    def _update(
        self,
        ids: tuple[str, str, str],
        expression: str,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any],
    ) -> Task | None:
        """One conditional update; when the condition fails, the task as it stands (None: no task)."""
        try:
            answer = self._ddb.update_item(
                TableName=self._table,
                Key=self._key(*ids),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#pk": keys.PK, **names},
                ExpressionAttributeValues={k: dynamo.value(v) for k, v in values.items()},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if dynamo.error_code(exc) != _CONDITION_FAILED:
                raise
            return self.get(*ids)
        return task_from_item(dynamo.plain(answer["Attributes"]))

    def add_comment(self, shop_id: str, contact_id: str, task_id: str, comment: str) -> Task | None:
        return self._update(
            (shop_id, contact_id, task_id),
            "SET #comment = :comment",
            "attribute_exists(#pk) AND #status = :open AND attribute_not_exists(#comment)",
            {"#status": "status", "#comment": "comment"},
            {":comment": comment, ":open": "open"},
        )

    def mark_notified(self, shop_id: str, contact_id: str, task_id: str, at: datetime) -> None:
        self._update(
            (shop_id, contact_id, task_id),
            "SET notified_at = :at",
            "attribute_exists(#pk)",
            {},
            {":at": isoformat(at)},
        )

    def close(self, shop_id: str, contact_id: str, task_id: str, at: datetime, by: str) -> Task | None:
        return self._update(
            (shop_id, contact_id, task_id),
            "SET #status = :done, done_at = :at, done_by = :by",
            "attribute_exists(#pk) AND #status = :open",
            {"#status": "status"},
            {":done": "done", ":open": "open", ":at": isoformat(at), ":by": by},
        )
