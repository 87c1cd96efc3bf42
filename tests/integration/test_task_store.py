"""The follow-up task store on DynamoDB (moto), and the in-memory fake held to the same contract;
the SNS adapter on moto; and a task in the contact's partition, gone with an erasure of it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.aws import keys
from comeback.aws.task_store import DynamoTaskStore
from comeback.aws.topic import SnsTopic
from comeback.domain.tasks import Summary, Task, TaskStore, task_id
from comeback.local import moto_patches
from tests.fakes.task_store import InMemoryTaskStore

REGION = "us-east-1"
TABLE = "tasks-test"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def task(contact: str = "c-1", answer: str = "nps#1#2026-03-01", at: datetime = T0, **changes: Any) -> Task:
    fields: dict[str, Any] = {
        "task_id": task_id("acme", contact, "nps", answer),
        "shop_id": "acme",
        "contact_id": contact,
        "customer_id": contact,
        "answer": answer,
        "score": 2,
        "summary": Summary(
            orders_count=3, total_spent_minor=14940, currency="JPY", last_order_at="2026-02-10"
        ),
        "created_at": at,
        **changes,
    }
    return Task(**fields)


@pytest.fixture
def ddb() -> Iterator[Any]:
    moto_patches.apply()  # each DynamoDB request atomic, as in AWS
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**keys.table_definition(TABLE))
        yield client


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest, ddb: Any) -> TaskStore:
    return InMemoryTaskStore() if request.param == "fake" else DynamoTaskStore(ddb, TABLE)


def test_a_task_is_stored_once_whoever_opens_it_and_however_often(store: TaskStore) -> None:
    first = task()
    results: list[Task] = []

    def open_it() -> None:
        results.append(store.create(task(comment=None)))

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.task_id for r in results} == {first.task_id}
    (stored,) = store.list("acme")
    assert stored == first and stored.status == "open"
    assert store.get("acme", "c-1", first.task_id) == first


def test_a_shops_tasks_newest_first_by_status_and_no_other_shops(store: TaskStore) -> None:
    older = store.create(task("c-1", at=T0))
    newer = store.create(task("c-2", at=T0 + timedelta(hours=1)))
    store.create(task("c-3", shop_id="other", task_id=task_id("other", "c-3", "nps", "x")))
    assert [t.task_id for t in store.list("acme")] == [newer.task_id, older.task_id]
    store.close("acme", "c-1", older.task_id, T0 + timedelta(days=1), "operator")
    assert [t.task_id for t in store.list("acme", "open")] == [newer.task_id]
    assert [t.task_id for t in store.list("acme", "done")] == [older.task_id]


def test_a_comment_joins_an_open_task_once_and_a_done_task_stays_done(store: TaskStore) -> None:
    opened = store.create(task())
    assert store.add_comment("acme", "c-1", opened.task_id, "Late parcel").comment == "Late parcel"  # type: ignore[union-attr]
    assert store.add_comment("acme", "c-1", opened.task_id, "Second").comment == "Late parcel"  # type: ignore[union-attr]
    done = store.close("acme", "c-1", opened.task_id, T0 + timedelta(days=1), "feedback.responded")
    assert done is not None and (done.status, done.done_by) == ("done", "feedback.responded")
    again = store.close("acme", "c-1", opened.task_id, T0 + timedelta(days=2), "operator")
    assert again is not None and (again.done_at, again.done_by) == (done.done_at, "feedback.responded")
    assert store.close("acme", "c-1", "task-missing", T0, "operator") is None
    assert store.add_comment("acme", "c-1", "task-missing", "x") is None


def test_notified_is_recorded(store: TaskStore) -> None:
    opened = store.create(task())
    store.mark_notified("acme", "c-1", opened.task_id, T0 + timedelta(minutes=1))
    assert store.get("acme", "c-1", opened.task_id).notified_at == T0 + timedelta(minutes=1)  # type: ignore[union-attr]
    # a second create (a retried sweep) answers the stored task: notified, so nobody is told twice
    assert store.create(task()).notified_at == T0 + timedelta(minutes=1)


def test_the_task_lives_in_the_contacts_partition_and_holds_no_address(ddb: Any) -> None:
    store = DynamoTaskStore(ddb, TABLE)
    opened = store.create(task())
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.contact("acme", "c-1")}},
    )["Items"]
    assert [i["sk"]["S"] for i in items] == [keys.task(opened.task_id)]
    assert "@" not in json.dumps(items)


def test_a_new_task_reaches_the_sns_topic_with_its_shop_as_an_attribute() -> None:
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        arn = sns.create_topic(Name="comeback-tasks")["TopicArn"]
        url = sqs.create_queue(QueueName="team")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        SnsTopic(sns, arn).publish(
            "Follow up: c-1 scored 2/10", json.dumps({"task_id": "t"}), {"shop_id": "acme"}
        )
        (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
        body = json.loads(message["Body"])
        assert body["Subject"] == "Follow up: c-1 scored 2/10" and json.loads(body["Message"]) == {
            "task_id": "t"
        }
        assert body["MessageAttributes"]["shop_id"]["Value"] == "acme"
