"""A record of every AWS call each function makes, as the IAM action and resource it needs.

moto does not enforce IAM, so a call that the function's role does not allow passes every test and
fails only in AWS. The recorder watches every client `comeback.aws` makes (and any other client
handed to `watch`), and notes for each call made while a function runs (`running(name)`: the local
runtime's invoker and the integration tests' engine set it) the IAM action(s) the call needs and
the resource it touches, by the names seen at run time (`table/comeback`, `queue/outbox`, ...).
`tests/infra/test_iam_from_calls.py` checks them against the roles of the synthesized template.

Dev-only (the layer leaves `local/` out): nothing here runs in Lambda.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from email.utils import parseaddr
from pathlib import Path
from typing import Any, NamedTuple

from comeback.aws import clients as aws

# Set to a directory to have every recorder of the process append its calls there (one JSON line
# per distinct call, written when first seen, so a runtime killed at the end loses nothing).
CALLS_DIR_ENV = "COMEBACK_AWS_CALLS_DIR"

current_function: ContextVar[str | None] = ContextVar("comeback_current_function", default=None)

# The IAM service prefix of each botocore service (most are the same name).
IAM_PREFIX = {"sesv2": "ses"}
# Batch operations authorised as their single-message action.
SQS_BATCHES = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# Transaction items are authorised one by one, as the item-level action.
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
UNKNOWN = "?"  # a resource the recorder cannot name: the IAM test refuses to guess


class AwsCall(NamedTuple):
    function: str
    service: str  # botocore's service name (sesv2, dynamodb, ...)
    operation: str  # boto3's operation (TransactWriteItems, ...)
    action: str  # the IAM action it needs (dynamodb:DeleteItem, ...)
    resource: str  # by run-time name: table/comeback[/index/due], queue/outbox, event-bus/default, ...


@contextmanager
def running(function: str) -> Iterator[None]:
    """Calls made inside are `function`'s (what Lambda's one-function-per-container gives for free)."""
    token = current_function.set(function)
    try:
        yield
    finally:
        current_function.reset(token)


def _name(value: str, separator: str) -> str:
    """The name at the end of an ARN or URL (`arn:...:event-bus/x` -> x), or the name itself."""
    return value.rsplit(separator, 1)[-1] if value.startswith(("arn:", "http")) else value


def accesses(service: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, resource) pairs one call needs."""
    prefix = IAM_PREFIX.get(service, service)
    if service == "dynamodb":
        return _dynamodb(operation, params)
    if service == "sqs":
        queue = params.get("QueueUrl") or params.get("QueueName") or UNKNOWN
        return [(f"sqs:{SQS_BATCHES.get(operation, operation)}", f"queue/{_name(str(queue), '/')}")]
    if service == "events" and operation == "PutEvents":
        buses = {_name(str(e.get("EventBusName") or "default"), "/") for e in params.get("Entries", [])}
        return [("events:PutEvents", f"event-bus/{bus}") for bus in sorted(buses)]
    if service == "sesv2" and operation == "SendEmail":
        return _ses_send(params)
    if service == "sns" and "TopicArn" in params:
        return [(f"sns:{operation}", f"topic/{_name(str(params['TopicArn']), ':')}")]
    if service == "ssm" and "Name" in params:
        # a parameter's ARN is `parameter/<its path without the leading slash>`
        return [(f"ssm:{operation}", f"parameter/{str(params['Name']).removeprefix('/')}")]
    if service == "secretsmanager" and "SecretId" in params:
        return [(f"secretsmanager:{operation}", f"secret:{_name(str(params['SecretId']), ':')}")]
    if service == "scheduler" and "Name" in params:
        group = params.get("GroupName") or "default"
        return [(f"scheduler:{operation}", f"schedule/{group}/{params['Name']}")]
    return [(f"{prefix}:{operation}", UNKNOWN)]


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                found.append((f"dynamodb:{TRANSACT_ACTIONS.get(kind, kind)}", f"table/{body['TableName']}"))
        return sorted(set(found))
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", f"table/{t}") for t in sorted(params.get("RequestItems", {}))]
    table = params.get("TableName")
    if table is None:
        return [(f"dynamodb:{operation}", UNKNOWN)]
    index = params.get("IndexName")
    resource = f"table/{_name(str(table), '/')}" + (f"/index/{index}" if index else "")
    return [(f"dynamodb:{operation}", resource)]


def _ses_send(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """SES authorises a send on the sending identity and on the configuration set it names.

    A v2 SendEmail of Raw content is authorised as ses:SendRawEmail too (refused without it:
    anymail/django-anymail#384, aws/aws-actionmailer-ses-ruby#10), so it needs both actions.
    """
    pairs = _ses_resources(params)
    actions = ["ses:SendEmail"] + (["ses:SendRawEmail"] if "Raw" in params.get("Content", {}) else [])
    return [(action, resource) for action in actions for _, resource in pairs]


def _ses_resources(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    if params.get("FromEmailAddressIdentityArn"):
        found.append(("ses:SendEmail", f"identity/{_name(params['FromEmailAddressIdentityArn'], '/')}"))
    elif params.get("FromEmailAddress"):
        domain = parseaddr(str(params["FromEmailAddress"]))[1].rpartition("@")[2]
        found.append(("ses:SendEmail", f"identity/{domain.lower() or UNKNOWN}"))
    else:
        found.append(("ses:SendEmail", UNKNOWN))  # raw content names its From only in the MIME
    if params.get("ConfigurationSetName"):
        found.append(("ses:SendEmail", f"configuration-set/{params['ConfigurationSetName']}"))
    return found


class Recorder:
    """Collects the calls of every watched client; `start()` watches every client of `comeback.aws`."""

    def __init__(self, sink: Path | None = None) -> None:
        self._calls: dict[AwsCall, int] = {}
        self._lock = threading.Lock()
        self._sink = sink
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()
        self._id = f"comeback-recorder-{id(self)}"

    def start(self) -> Recorder:
        aws.add_client_hook(self.watch)
        return self

    def stop(self) -> None:
        aws.remove_client_hook(self.watch)
        for client in list(self._watched):
            client.meta.events.unregister("before-parameter-build", unique_id=self._id)
        self._watched = weakref.WeakSet()

    def watch(self, client: Any) -> None:
        """Record the calls of this botocore client (registering twice is harmless)."""
        # before-parameter-build sees the caller's own parameters, once per call (not per retry)
        client.meta.events.register("before-parameter-build", self._on_call, unique_id=self._id)
        self._watched.add(client)

    def _on_call(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        function = current_function.get()
        if function is None:
            return  # set-up, operator commands, the local runtime's own control endpoints
        service = model.service_model.service_name
        fresh = []
        with self._lock:
            for action, resource in accesses(service, model.name, params):
                call = AwsCall(function, service, model.name, action, resource)
                if call not in self._calls:
                    fresh.append(call)
                self._calls[call] = self._calls.get(call, 0) + 1
            if fresh and self._sink is not None:
                with self._sink.open("a", encoding="utf-8") as out:
                    out.writelines(json.dumps(call._asdict()) + "\n" for call in fresh)

    def calls(self) -> dict[AwsCall, int]:
        with self._lock:
            return dict(self._calls)

    def as_json(self) -> list[dict[str, Any]]:
        return [{**call._asdict(), "count": n} for call, n in sorted(self.calls().items())]


def sink_from_env(kind: str) -> Path | None:
    """`$COMEBACK_AWS_CALLS_DIR/{kind}-{pid}.jsonl` when that variable is set, else None."""
    directory = os.environ.get(CALLS_DIR_ENV)
    if not directory:
        return None
    Path(directory).mkdir(parents=True, exist_ok=True)
    return Path(directory) / f"{kind}-{os.getpid()}.jsonl"


def load(paths: Iterable[Path]) -> set[AwsCall]:
    """The calls the sinks of earlier runs hold."""
    found = set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.add(AwsCall(**json.loads(line)))
    return found
