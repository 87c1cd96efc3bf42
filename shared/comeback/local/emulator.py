"""The embedded AWS: a moto server in this process, reached through real boto3 over HTTP, with
every resource of the topology created the way the CDK stack creates it in AWS."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from comeback.app.topology import DEFAULT_BUS, TOPOLOGY, Topology
from comeback.aws import keys
from comeback.domain import playbook

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# Sender domains the emulator treats as verified SES identities (reserved example domains).
VERIFIED_DOMAINS = ("example.com", "example.jp", "example.org", "example.net")


@dataclass
class Resources:
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    task_topic_arn: str | None = None


# The SNS topic new follow-up tasks are published to (infra/constructs/tasks.py in AWS).
TASK_TOPIC = "comeback-tasks"


# DynamoDB is most of the emulator's work; it gets a process (and so a core) of its own. Everything
# else stays together: EventBridge delivers to SQS inside one moto, so those two cannot be split.
OWN_PROCESS = ("dynamodb",)


class _Moto:
    """One moto server in a child process (see `emulator_process`)."""

    def __init__(self) -> None:
        self.endpoint = ""
        self.extension = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self, restore: Path | None = None) -> None:
        self.launch(restore)
        self.wait_ready()

    def launch(self, restore: Path | None = None) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - our own module, our own paths
            [
                sys.executable,
                "-m",
                "comeback.local.emulator_process",
                *(["--restore", str(restore)] if restore else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line.startswith("ports "):
            raise RuntimeError(f"the AWS emulator did not start: {line!r}")
        moto_port, extension_port = line.split()[1:3]
        self.endpoint = f"http://127.0.0.1:{moto_port}"
        self.extension = f"http://127.0.0.1:{extension_port}"

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()


class Emulator:
    """moto, in child processes, reached through real boto3 over HTTP."""

    def __init__(self) -> None:
        self._main = _Moto()
        self._own = {service: _Moto() for service in OWN_PROCESS}
        self._clients: dict[str, Any] = {}
        self._session: Any = None

    @property
    def endpoint(self) -> str:
        return self._main.endpoint

    @property
    def endpoints(self) -> dict[str, str]:
        """Services served by a process of their own, and where."""
        return {service: moto.endpoint for service, moto in self._own.items()}

    @property
    def _processes(self) -> dict[str, _Moto]:
        return {"main": self._main, **self._own}

    @property
    def process_names(self) -> list[str]:
        return list(self._processes)

    def start(self, restore: dict[str, Path] | None = None) -> str:
        """Start every process; with `restore`, each first loads its pickled state (by process name)."""
        restore = restore or {}
        if restore and set(restore) != set(self._processes):
            raise ValueError(
                f"saved state is for emulator processes {sorted(restore)}, not {self.process_names}"
            )
        # each process imports moto (about 2 s): they boot side by side, then each is waited for
        for name, moto in self._processes.items():
            moto.launch(restore.get(name))
        for moto in self._processes.values():
            moto.wait_ready()
        return self._main.endpoint

    def stop(self) -> None:
        for moto in (self._main, *self._own.values()):
            moto.stop()

    def client(self, service: str) -> Any:
        """One client per service (creating one costs ~0.1 s; they are thread-safe)."""
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        if self._session is None:
            # one session for every client: its loader reads botocore's endpoint and service
            # data once, not once per client (about 0.1 s each)
            self._session = boto3.session.Session()
        return self._session.client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=self.endpoints.get(service, self._main.endpoint),
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any credentials
            config=Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 3}),
        )

    def _ask(self, path: str, moto: _Moto | None = None) -> Any:
        base = (moto or self._main).extension
        with urllib.request.urlopen(base + path, timeout=30) as answer:  # noqa: S310 - our child
            return json.loads(answer.read())

    def snapshot(self, paths: dict[str, Path]) -> dict[str, int]:
        """Each process pickles its moto state to its path (atomically); bytes written per process."""
        sizes = {}
        for name, moto in self._processes.items():
            request = urllib.request.Request(  # noqa: S310 - our child's http:// URL
                moto.extension + "/snapshot",
                data=json.dumps({"path": str(paths[name])}).encode(),
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=300) as answer:  # noqa: S310 - our child
                sizes[name] = int(json.loads(answer.read())["bytes"])
        return sizes

    def changes(self) -> int:
        """State-changing AWS actions served so far, over every process."""
        return sum(int(self._ask("/changes", moto)) for moto in self._processes.values())

    def timings(self) -> dict[str, Any]:
        """Calls and seconds per AWS action, as each emulator process served them."""
        merged: dict[str, Any] = {}
        for moto in (self._main, *self._own.values()):
            merged.update(self._ask("/timings", moto))
        return dict(sorted(merged.items(), key=lambda kv: -kv[1]["seconds"]))

    def queued(self, queue_urls: dict[str, str]) -> int:
        """Messages held by these queues (visible, in flight or delayed), as the emulator counts them."""
        names = ",".join(_queue_name(url) for url in queue_urls.values())
        return int(self._ask(f"/queued?names={names}"))

    def depths(self, queue_urls: dict[str, str]) -> dict[str, dict[str, int]]:
        """Visible, in-flight and delayed messages of each queue (by our name), as GetQueueAttributes
        would count them, in one request: a drain answers with them, and the replays drain daily."""
        by_name = {_queue_name(url): name for name, url in queue_urls.items()}
        answer = self._ask(f"/depths?names={','.join(by_name)}")
        return {by_name[physical]: counts for physical, counts in answer.items()}

    def sent_emails(self) -> list[SimpleNamespace]:
        """Raw messages SES accepted (moto keeps Raw MIME whole): objects with `id` and `raw_data`."""
        return [SimpleNamespace(**m) for m in self._ask("/sent")]


def _queue_name(url: str) -> str:
    """The SQS queue name at the end of its URL (what the emulator's backend keys queues by)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def provision(
    client: Callable[[str], Any],
    table: str,
    configuration_set: str,
    token_key_secret: str,
    topology: Topology = TOPOLOGY,
) -> Resources:
    """Create the table, buses, queues (with DLQs), rules, SES identities and the token key.

    `client(service)` gives a boto3 client: the emulator's, or moto's in-process mock in tests."""
    resources = Resources()
    ddb = client("dynamodb")
    ddb.create_table(**keys.table_definition(table))

    sqs = client("sqs")
    for queue in topology.queues:
        dlq_url = sqs.create_queue(QueueName=queue.dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName=queue.name,
            Attributes={
                "VisibilityTimeout": str(topology.visibility_timeout(queue)),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receive_count)}
                ),
            },
        )["QueueUrl"]
        resources.queue_urls[queue.name] = url
        resources.dlq_urls[queue.name] = dlq_url
        resources.queue_arns[queue.name] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]

    events = client("events")
    for bus in topology.buses:
        if bus != DEFAULT_BUS:
            events.create_event_bus(Name=bus)
    for rule in topology.rules:
        events.put_rule(Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern))
        events.put_targets(
            Rule=rule.name,
            EventBusName=rule.bus,
            Targets=[{"Id": rule.queue, "Arn": resources.queue_arns[rule.queue]}],
        )

    ses = client("sesv2")
    ses.create_configuration_set(ConfigurationSetName=configuration_set)
    default_sender = str(playbook.default().shop.sender.from_email).rpartition("@")[2]
    for domain in sorted({*VERIFIED_DOMAINS, default_sender}):
        ses.create_email_identity(EmailIdentity=domain)

    client("ssm").put_parameter(
        Name=token_key_secret, Value=secrets.token_urlsafe(48), Type="SecureString", Tier="Standard"
    )
    resources.task_topic_arn = client("sns").create_topic(Name=TASK_TOPIC)["TopicArn"]
    return resources


def existing(client: Callable[[str], Any], topology: Topology = TOPOLOGY) -> Resources:
    """The queues a restored emulator already holds, found the way `provision` records them."""
    resources = Resources()
    sqs = client("sqs")
    for queue in topology.queues:
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        resources.queue_urls[queue.name] = url
        resources.dlq_urls[queue.name] = sqs.get_queue_url(QueueName=queue.dlq_name)["QueueUrl"]
        resources.queue_arns[queue.name] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
    # CreateTopic answers the existing topic's ARN (a data dir saved before the topic existed gets it)
    resources.task_topic_arn = client("sns").create_topic(Name=TASK_TOPIC)["TopicArn"]
    return resources


def verify_sender(emulator: Emulator, address: str) -> None:
    """Let the local SES send from a shop's own sender address."""
    emulator.client("sesv2").create_email_identity(EmailIdentity=address.rpartition("@")[2])
