"""The embedded AWS: a moto server in this process, reached through real boto3 over HTTP, with
every resource of the topology created the way the CDK stack creates it in AWS."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from comeback import keys, playbook
from comeback.topology import DEFAULT_BUS, TOPOLOGY, Topology

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
# Sender domains the emulator treats as verified SES identities (reserved example domains).
VERIFIED_DOMAINS = ("example.com", "example.jp", "example.org", "example.net")


@dataclass
class Resources:
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)


class Emulator:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        from comeback.local import moto_patches

        moto_patches.apply()

        # werkzeug logs every request of the emulator; that is noise for anyone running the engine
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self._clients: dict[str, Any] = {}

    def start(self) -> str:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        """One client per service (creating one costs ~0.1 s; they are thread-safe)."""
        if service not in self._clients:
            self._clients[service] = self._new_client(service)
        return self._clients[service]

    def _new_client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator accepts any credentials
            config=Config(max_pool_connections=32, retries={"mode": "standard", "max_attempts": 3}),
        )

    def queued(self, queue_urls: dict[str, str]) -> int:
        """Messages held by these queues, visible, in flight or delayed, read from the emulator's
        own state: the drain loop asks this every few milliseconds, an HTTP call each time is waste."""
        from moto.sqs.models import sqs_backends

        queues = sqs_backends[ACCOUNT][REGION].queues
        return sum(len(queues[url.rstrip("/").rsplit("/", 1)[-1]]._messages) for url in queue_urls.values())

    def sent_emails(self) -> list[Any]:
        """Raw messages SES accepted (moto keeps Raw MIME whole)."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)


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

    client("secretsmanager").create_secret(Name=token_key_secret, SecretString=secrets.token_urlsafe(32))
    return resources


def verify_sender(emulator: Emulator, address: str) -> None:
    """Let the local SES send from a shop's own sender address."""
    emulator.client("sesv2").create_email_identity(EmailIdentity=address.rpartition("@")[2])
