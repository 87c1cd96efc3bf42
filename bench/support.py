"""An engine on moto's in-process mock, and a counter of the AWS calls it makes."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from moto import mock_aws

from comeback.app import runtime as runtimes
from comeback.app.runtime import Runtime
from comeback.app.settings import Settings
from comeback.app.topology import TOPOLOGY
from comeback.aws import clients as aws
from comeback.aws.shops import ShopAdmin
from comeback.domain.clock import FixedClock
from comeback.local import moto_patches
from comeback.local.emulator import REGION, provision
from comeback.local.lambdas import LambdaContext, load_handler

START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
SECRET = "whsec_ZGVtby1zZWNyZXQ="
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@dataclass
class CallCounter:
    """Counts what botocore itself is about to send, per service and operation."""

    calls: Counter[str] = field(default_factory=Counter)
    items_written: int = 0

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls[model.name] += 1
        if model.name == "TransactWriteItems":
            self.items_written += len(params.get("TransactItems", []))
        elif model.name == "BatchWriteItem":
            self.items_written += sum(len(v) for v in params.get("RequestItems", {}).values())
        elif model.name in WRITES:
            self.items_written += 1

    def reset(self) -> None:
        self.calls.clear()
        self.items_written = 0

    @property
    def reads(self) -> int:
        return sum(n for op, n in self.calls.items() if op in READS)

    @property
    def writes(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITES)


@dataclass
class Engine:
    settings: Settings
    clock: FixedClock
    runtime: Runtime
    resources: Any
    ddb_calls: CallCounter

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        spec = TOPOLOGY.function(function)
        return load_handler(spec).lambda_handler(event, LambdaContext(spec.name, spec.timeout_seconds))


@contextlib.contextmanager
def engine(due_shards: int = 8, secret_cache_seconds: int = 300, playbook_yaml: str = "") -> Iterator[Engine]:
    moto_patches.apply()
    with mock_aws():
        aws.reset()
        resources = provision(
            lambda s: boto3.client(s, region_name=REGION), "comeback", "comeback", "/comeback/unsubscribe-key"
        )
        settings = Settings(
            region=REGION,
            queue_urls=dict(resources.queue_urls),
            secret_cache_seconds=secret_cache_seconds,
            due_shards=due_shards,
            ses_max_send_rate=1000,
        )
        clock = FixedClock(START)
        runtime = Runtime(settings, clock=clock)
        runtimes.install(runtime)
        ShopAdmin(settings).create("demo", "Demo Shop", START, secret=SECRET, playbook_yaml=playbook_yaml)
        counter = CallCounter()
        aws.client("dynamodb", settings).meta.events.register("before-call.dynamodb", counter)
        try:
            yield Engine(settings, clock, runtime, resources, counter)
        finally:
            runtimes.install(None)
            aws.reset()


def sqs_event(bodies: list[str], queue: str = "contacts") -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "-",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def bus_body(event: dict[str, Any], shop: str = "demo") -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "bench",
            "detail-type": event["type"],
            "source": "comeback.ingest",
            "account": "123456789012",
            "time": "2026-01-05T03:00:00Z",
            "region": "us-east-1",
            "resources": [],
            # received when it happened: ingest refuses times more than a day after receipt
            "detail": {"shop_id": shop, "received_at": event["occurred_at"], "event": event},
        }
    )
