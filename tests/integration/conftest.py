"""Integration tests: the real handler modules, in-process, against moto's `mock_aws`.

`engine` provisions what the topology declares (same code as the local runtime), installs a
`Runtime` with a clock the test moves, and offers `deliver(queue)`: receive what is on a queue and
hand it to the queue's consumer as a real SQS event, as Lambda's event source would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.app import runtime as runtimes
from comeback.app.runtime import Runtime
from comeback.app.settings import Settings
from comeback.app.sweep import SweepReport, combined
from comeback.app.topology import BUS_NAME, ENGINE_SOURCE, TOPOLOGY
from comeback.aws import clients as aws
from comeback.aws.shops import ShopAdmin
from comeback.domain.clock import FixedClock
from comeback.local import moto_patches, recording
from comeback.local.emulator import ACCOUNT, REGION, provision
from comeback.local.lambdas import LambdaContext, load_handler
from comeback.local.pollers import sqs_record
from tests.support import DEMO_SECRET

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
_handlers: dict[str, Any] = {}


def handler(name: str) -> Any:
    if name not in _handlers:
        _handlers[name] = load_handler(TOPOLOGY.function(name))
    return _handlers[name]


class Engine:
    def __init__(self, settings: Settings, clock: FixedClock, resources: Any) -> None:
        self.settings = settings
        self.clock = clock
        self.resources = resources
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.runtime: Runtime = runtimes.current()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        fn = TOPOLOGY.function(function)
        with recording.running(function):  # what the function calls is checked against its role
            return handler(function).lambda_handler(event, LambdaContext(fn.name, fn.timeout_seconds))

    def receive(self, queue: str, max_messages: int = 10) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.resources.queue_urls[queue],
            MaxNumberOfMessages=max_messages,
            AttributeNames=["All"],
        )
        return answer.get("Messages", [])

    def sqs_event(self, queue: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        arn = self.resources.queue_arns[queue]
        return {"Records": [sqs_record(m, arn, REGION) for m in messages]}

    def deliver(self, queue: str, rounds: int = 100) -> list[dict[str, Any]]:
        """Feed the queue's consumer until the queue is empty; returns each invocation's answer."""
        answers = []
        consumer = TOPOLOGY.queue(queue).consumer
        for _ in range(rounds):
            messages = self.receive(queue)
            if not messages:
                return answers
            answer = self.invoke(consumer, self.sqs_event(queue, messages)) or {}
            answers.append(answer)
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(
                    QueueUrl=self.resources.queue_urls[queue],
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            if failed:
                return answers  # leave failures to the test (they stay invisible until the timeout)
        raise AssertionError(f"{queue} never emptied")

    def sweep(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """The hourly schedule as in AWS: its fan-out, then every unit on the sweep queue; the sum
        of the units' reports, with how many units ran."""
        self.invoke("sweep", event or {"source": "aws.scheduler"})
        answers = self.deliver("sweep")
        reports = [SweepReport(**{k: v for k, v in a["sweep"].items()}) for a in answers if "sweep" in a]
        total = combined(reports).as_dict()
        total["units"] = len(answers)
        return total

    def queue_size(self, queue: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_urls[queue],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def table_items(self) -> list[dict[str, Any]]:
        return self.ddb.scan(TableName=self.settings.table_name)["Items"]

    def bus_event(
        self, detail_type: str, detail: dict[str, Any], source: str = "comeback.ingest"
    ) -> dict[str, Any]:
        """The EventBridge event a bus rule delivers to SQS (the body the contacts queue holds)."""
        return {
            "version": "0",
            "id": "00000000-0000-0000-0000-000000000001",
            "detail-type": detail_type,
            "source": source,
            "account": ACCOUNT,
            "time": "2026-01-05T03:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": detail,
        }

    def send_to(self, queue: str, bodies: list[dict[str, Any] | str]) -> None:
        for body in bodies:
            self.sqs.send_message(
                QueueUrl=self.resources.queue_urls[queue],
                MessageBody=body if isinstance(body, str) else json.dumps(body),
            )

    def let_delays_pass(self, queue: str) -> None:
        """What waiting out DelaySeconds would do, without waiting (moto counts real milliseconds)."""
        from moto.sqs.models import sqs_backends

        backend_queue = sqs_backends[ACCOUNT][REGION].queues[queue]
        for message in backend_queue._messages:
            message.delayed_until = 0

    def observe_engine_notices(self) -> None:
        """What a shop's own system would do: a rule on our bus for the engine's notices, to a queue."""
        url = self.sqs.create_queue(QueueName="observer")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events", region_name=REGION)
        events.put_rule(
            Name="observer", EventBusName=BUS_NAME, EventPattern=json.dumps({"source": [ENGINE_SOURCE]})
        )
        events.put_targets(Rule="observer", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
        self._observer_url, self._observed = url, []

    def bus_bodies(self) -> list[dict[str, Any]]:
        """Every engine notice published so far (contact.stage_changed, reward.*), oldest first."""
        while True:
            answer = self.sqs.receive_message(QueueUrl=self._observer_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return list(self._observed)
            self._observed.extend(json.loads(m["Body"]) for m in messages)
            self.sqs.delete_message_batch(
                QueueUrl=self._observer_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    def sent_emails(self) -> list[Any]:
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)


@contextmanager
def running_engine() -> Iterator[Engine]:
    """A fresh moto with the topology provisioned and the demo shop (the `engine` fixture, reusable)."""
    moto_patches.apply()  # the same emulator fixes as the local runtime (atomic requests, cheap transactions)
    with mock_aws():
        aws.reset()
        resources = provision(
            lambda service: boto3.client(service, region_name=REGION),
            table="comeback",
            configuration_set="comeback",
            token_key_secret="/comeback/unsubscribe-key",
        )
        settings = Settings(
            region=REGION,
            queue_urls=dict(resources.queue_urls),
            task_topic_arn=resources.task_topic_arn,
            secret_cache_seconds=0,
            public_base_url="https://api.shop.example.com",
            due_shards=4,
        )
        clock = FixedClock(START)
        # one fixed clock for business time and for signature freshness: tests sign with it
        runtimes.install(Runtime(settings, clock=clock, wall_clock=clock))
        # welcome and survey emails are their own tests' (tests/unit, tests/e2e/test_welcome_survey.py)
        quiet = "{welcome: {enabled: false}, survey: {enabled: false}}"
        ShopAdmin(settings).create("demo", "Demo Shop", START, secret=DEMO_SECRET, playbook_yaml=quiet)
        engine = Engine(settings, clock, resources)
        engine.observe_engine_notices()
        try:
            yield engine
        finally:
            runtimes.install(None)
            aws.reset()


@pytest.fixture
def engine() -> Iterator[Engine]:
    with running_engine() as running:
        yield running


@pytest.fixture(scope="session", autouse=True)
def aws_calls() -> Iterator[recording.Recorder]:
    """Every AWS call the handlers make in this session (and in $COMEBACK_AWS_CALLS_DIR when set),
    for tests/infra/test_iam_from_calls.py to check against the roles."""
    recorder = recording.Recorder(recording.sink_from_env("integration")).start()
    yield recorder
    recorder.stop()
