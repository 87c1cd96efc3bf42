"""`comeback local serve`: the whole engine on one machine.

An embedded moto server stands in for AWS and is reached through real boto3 over HTTP; the same
handler modules that run in Lambda run here behind a local HTTP gateway (API Gateway v2 events),
queue pollers (SQS events, partial batch failures, DLQs) and a scheduler, all reading one
simulated clock. The `/_local/*` endpoints move time, run sweeps, wait for queues to drain and
show what was sent and stored.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from comeback.app import observability
from comeback.app import runtime as runtimes
from comeback.app.observability import logger
from comeback.app.runtime import Runtime
from comeback.app.settings import Settings
from comeback.app.topology import DEFAULT_BUS, SES_SOURCE, TOPOLOGY, Route, Schedule
from comeback.aws import clients as aws
from comeback.aws.bus import EventBridgePublisher
from comeback.aws.mailer import SesMailer
from comeback.aws.shops import ShopAdmin
from comeback.domain.clock import SimulatedClock, isoformat, parse_iso
from comeback.domain.views import contact_view
from comeback.local import mailbox, persistence, recording
from comeback.local.emulator import ACCOUNT, REGION, Emulator, existing, provision, verify_sender
from comeback.local.faults import FaultyEvents
from comeback.local.lambdas import REPO_ROOT, Invoker, load_handler
from comeback.local.pollers import QueuePoller
from comeback.local.scheduler import Scheduler, scheduled_event
from comeback.messaging.ses_feedback import DETAIL_TYPES

POLLERS_PER_QUEUE = 2
LOCAL_DUE_SHARDS = 2
SES_EVENT_TYPES = ("Bounce", "Complaint", "Delivery", "Open", "Click")
DEFAULT_SHOP = ("demo", "whsec_ZGVtby1zZWNyZXQ=")  # the key is the bytes b"demo-secret"


@dataclass(frozen=True)
class ShopSeed:
    shop_id: str
    secret: str
    name: str = ""
    playbook_yaml: str = ""
    # platform ("shopify", "woocommerce", "segment") -> the secret it signs this shop's webhooks with
    platform_secrets: Mapping[str, str] = field(default_factory=dict)


class LocalRuntime:
    def __init__(
        self,
        port: int = 8080,
        shops: list[ShopSeed] | None = None,
        start: datetime | None = None,
        functions_root: Path = REPO_ROOT,
        host: str = "127.0.0.1",
        schedules: bool = True,
        data: Path | None = None,
    ) -> None:
        # --data DIR: the emulated AWS and this runtime's clock and outbox survive a restart
        self.data = persistence.DataDir(data) if data is not None else None
        self.restored: persistence.Saved | None = None
        self._gate = persistence.Gate()  # functions pass; a snapshot closes it
        self._snapshot_lock = threading.Lock()
        self._snapshots: persistence.Periodic | None = None
        self._saved_mark: tuple[int, int] | None = None
        self._run_schedules = schedules
        self._requested_port = port
        self._host = host
        self._seeds = shops or [ShopSeed(*DEFAULT_SHOP, name="Demo Shop")]
        self.clock = SimulatedClock(start)
        self._root = functions_root
        self._emulator = Emulator()
        self._pollers: list[QueuePoller] = []
        self._sweep_lock = threading.Lock()
        self._invokers: dict[str, Invoker] = {}
        self._http: ThreadingHTTPServer | None = None
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        self.restored = self.data.open() if self.data else None  # DataDirError: a one-line refusal
        endpoint = self._emulator.start(self.restored.moto if self.restored else None)
        self._http = ThreadingHTTPServer((self._host, self._requested_port), _handler_for(self))
        self._http.daemon_threads = True
        self.base_url = f"http://{self._host}:{self._http.server_address[1]}"
        self.settings = Settings(
            aws_endpoint_url=endpoint,
            aws_endpoints=self._emulator.endpoints,
            region=REGION,
            public_base_url=self.base_url,
            secret_cache_seconds=2,  # rotations and new shops take effect within 2 s locally
            # Shards spread the index's writes over DynamoDB partitions; the emulator has none, and
            # every shard is one more query per sweep. Two still exercise the sharded sweep.
            due_shards=LOCAL_DUE_SHARDS,
            stage="local",
        )
        if self.restored:  # the emulator holds the topology already: provisioning again would fail
            self.resources = existing(self._emulator.client)
        else:
            self.resources = provision(
                self._emulator.client,
                self.settings.table_name,
                self.settings.ses_configuration_set,
                self.settings.token_key_secret,
            )
        self.settings = self.settings.model_copy(
            update={
                "queue_urls": dict(self.resources.queue_urls),
                "task_topic_arn": self.resources.task_topic_arn,
            }
        )
        self.mailer = mailbox.RecordingMailer(
            SesMailer(self._emulator.client("sesv2"), self.settings.ses_configuration_set)
        )
        self.events = FaultyEvents(self._emulator.client("events"))
        publisher = EventBridgePublisher(self.events, self.settings.bus_name, backoff_seconds=0.01)
        observability.local_counts = Counter()
        self.runtime = Runtime(
            self.settings, clock=self.clock, mailer_override=self.mailer, publisher_override=publisher
        )
        runtimes.install(self.runtime)
        # every call a function makes, as IAM action and resource (GET /_local/aws-calls)
        self.recorder = recording.Recorder(recording.sink_from_env("local")).start()
        for direct in ("sesv2", "events"):  # the mailer and the publisher use the emulator's clients
            self.recorder.watch(self._emulator.client(direct))
        self.aws_calls: Counter[str] = Counter()
        for service in ("dynamodb", "sqs", "events", "sesv2", "ssm", "sns"):
            # what the functions ask of AWS, counted from botocore's own events
            aws.client(service, self.settings).meta.events.register(
                f"before-call.{aws.client(service, self.settings).meta.service_model.endpoint_prefix}",
                self._count_call,
            )
        if self.restored:
            self._restore_runtime(self.restored.runtime)
        self._seed_shops()
        for function in TOPOLOGY.functions:
            module = load_handler(function, self._root)
            self._invokers[function.name] = persistence.GatedInvoker(function, module, self._gate)
        sqs = self._emulator.client("sqs")
        self._bells = {queue.name: threading.Event() for queue in TOPOLOGY.queues}
        self._ring_on_calls(sqs)
        # Lambda runs several pollers per queue; two here keep the emulator busy while a
        # function waits on it, and make concurrent deliveries to one contact the everyday case.
        for queue in TOPOLOGY.queues:
            for _ in range(POLLERS_PER_QUEUE):
                poller = QueuePoller(
                    sqs,
                    queue,
                    self.resources.queue_urls[queue.name],
                    self.resources.queue_arns[queue.name],
                    self._invokers[queue.consumer],
                    REGION,
                    self._bells[queue.name],
                )
                poller.start()
                self._pollers.append(poller)
        self._scheduler = Scheduler(TOPOLOGY.schedules, self.clock, self._fire)
        if self._run_schedules:
            self._scheduler.start()
        threading.Thread(target=self._http.serve_forever, name="gateway", daemon=True).start()
        if self.data:
            self._snapshots = persistence.Periodic(self.snapshot, self._changed, persistence.PERIOD_SECONDS)
            self._snapshots.start()
        return self.base_url

    def stop(self) -> None:
        if self._snapshots:
            self._snapshots.stop()
        for poller in self._pollers:
            poller.stop()
        for poller in self._pollers:
            poller.join(timeout=3)  # a poller waits at most a second for messages
        self._scheduler.stop()
        if self._http:
            self._http.shutdown()
        if self.data:
            try:
                self.snapshot()  # nothing runs any more: this one holds everything
            except Exception:
                logger.exception("the last snapshot failed; --data keeps the one before")
            self.data.close()
        self._emulator.stop()
        self.recorder.stop()
        runtimes.install(None)

    def _seed_shops(self) -> None:
        admin = ShopAdmin(self.settings)
        for seed in self._seeds:
            if not (self.restored and admin.get(seed.shop_id)):  # a restored shop keeps what it holds
                admin.create(
                    seed.shop_id,
                    seed.name or seed.shop_id,
                    self.clock.now(),
                    secret=seed.secret,
                    playbook_yaml=seed.playbook_yaml,
                )
            for platform, secret in seed.platform_secrets.items():
                admin.set_platform_secret(seed.shop_id, platform, secret)
            config = admin.get(seed.shop_id)
            if config:
                verify_sender(self._emulator, str(config.playbook.shop.sender.from_email))

    def _ring_on_calls(self, emulator_sqs: Any) -> None:
        """Ring a queue's doorbell after every call of this process that may have fed it."""
        by_url = {url: name for name, url in self.resources.queue_urls.items()}
        fed_by_bus = [rule.queue for rule in TOPOLOGY.rules]

        def before_sqs(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["comeback_queue"] = by_url.get(str(params.get("QueueUrl", "")))

        def after_sqs(context: dict[str, Any], **_: Any) -> None:
            name = context.get("comeback_queue")
            if name:  # once the queue holds the message: a poller woken earlier would find nothing
                self._bells[name].set()

        def after_events(**_: Any) -> None:
            for name in fed_by_bus:
                self._bells[name].set()

        sqs_clients = {id(c): c for c in (emulator_sqs, aws.client("sqs", self.settings))}
        for client in sqs_clients.values():
            for operation in ("SendMessage", "SendMessageBatch", "ChangeMessageVisibilityBatch"):
                # the API's own parameters: `before-call` sees the serialised request, whose body
                # (JSON protocol) hides QueueUrl, and then no doorbell rang: every message sent
                # from this process waited out a poller's idle timeout (0.5 s) before delivery
                client.meta.events.register(f"before-parameter-build.sqs.{operation}", before_sqs)
                client.meta.events.register(f"after-call.sqs.{operation}", after_sqs)
        bus_clients = (self._emulator.client("events"), aws.client("events", self.settings))
        for client in {id(c): c for c in bus_clients}.values():
            client.meta.events.register("after-call.events.PutEvents", after_events)

    def _count_call(self, model: Any, **_: Any) -> None:
        self.aws_calls[f"{model.service_model.service_name}.{model.name}"] += 1

    # -- --data DIR ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Write the whole state to --data now, every function paused meanwhile (see persistence)."""
        if self.data is None:
            raise LookupError("state is in memory: start with --data DIR to keep it")
        with self._snapshot_lock, self._gate.closed():
            mark = self._mark()
            written = self.data.write(
                self._emulator.snapshot,
                self._emulator.process_names,
                {
                    "clock": isoformat(self.clock.now()),
                    "mailer": self.mailer.state(),
                    "business": dict(observability.local_counts or {}),
                    "aws_calls": dict(self.aws_calls),
                },
            )
            self._saved_mark = mark
            return written

    def _restore_runtime(self, state: dict[str, Any]) -> None:
        self.clock.set(parse_iso(state["clock"]))  # time stood still while the runtime was down
        self.mailer.restore(state.get("mailer", {}))
        if observability.local_counts is not None:
            observability.local_counts.update(state.get("business", {}))
        self.aws_calls.update(state.get("aws_calls", {}))

    def _mark(self) -> tuple[int, int]:
        """Changes the emulator served, and the clock's offset in whole seconds (it jitters)."""
        return self._emulator.changes(), round((self.clock.now() - datetime.now(UTC)).total_seconds())

    def _changed(self) -> bool:
        return self._mark() != self._saved_mark

    # -- control -----------------------------------------------------------------------------
    def move_clock(self, advance_days: float | None = None, to: str | None = None) -> datetime:
        if to is not None:
            return self.clock.set(parse_iso(to))
        return self.clock.advance(timedelta(days=advance_days or 0))

    def _fire(self, schedule: Schedule) -> Any:
        with self._sweep_lock:
            now = self.clock.now()
            self._scheduler.ran(schedule.name, now)
            return self._invokers[schedule.function](scheduled_event(schedule, now))

    def sweep(self, timeout: float = 300, wait: bool = True) -> dict[str, Any]:
        """Run the sweep now (its fan-out, then one unit per shard from the sweep queue); then wait
        for every queue to drain (unless `wait` is false). The report sums the units that ran."""
        from comeback.app.sweep import SweepReport, combined

        reports: list[SweepReport] = []
        self.runtime.sweep.observers.append(reports.append)
        try:
            fanned = self._fire(_schedule("sweep"))
            drained = self.drain(timeout) if wait else None
        finally:
            self.runtime.sweep.observers.remove(reports.append)
        report = {**combined(reports).as_dict(), **fanned} if wait else fanned
        return {"report": report, "drained": drained, "now": isoformat(self.clock.now())}

    def segments(self, timeout: float = 300) -> dict[str, Any]:
        """Run the daily segmentation now (its fan-out, then one unit per shop), as its schedule would."""
        from comeback.app.segments import SegmentReport

        reports: list[SegmentReport] = []
        self.runtime.segments.observers.append(reports.append)
        try:
            fanned = self._fire(_schedule("segments"))
            drained = self.drain(timeout)
        finally:
            self.runtime.segments.observers.remove(reports.append)
        shops = {
            r.shop_id: r.segmentation.model_dump() if r.segmentation else None
            for r in sorted(reports, key=lambda r: r.shop_id)
        }
        return {
            "units": fanned["units"],
            "shops": shops,
            "drained": drained,
            "now": isoformat(self.clock.now()),
        }

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Each work queue and DLQ: visible, in-flight and delayed messages."""
        return self._emulator.depths(
            {**self.resources.queue_urls, **{f"{k}-dlq": v for k, v in self.resources.dlq_urls.items()}}
        )

    def drain(self, timeout: float = 300) -> bool:
        """Wait until no queue holds a message and no function is running (twice in a row)."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            busy = any(p.busy for p in self._pollers) or self._sweep_lock.locked()
            quiet = quiet + 1 if not busy and not self._emulator.queued(self.resources.queue_urls) else 0
            if quiet >= 2:
                return True
            time.sleep(0.01)
        return False

    def outbox(self, last: int | None = None, since: int | None = None) -> list[dict[str, Any]]:
        sent = self._emulator.sent_emails()
        if since is not None:
            sent = sent[since:]
        if last is not None:
            sent = sent[-last:] if last > 0 else []
        return [mailbox.entry(m, self.mailer.tags(m.id)) for m in sent]

    def contact(self, shop_id: str, customer: str) -> dict[str, Any] | None:
        profile = self.runtime.contacts.find(shop_id, customer)
        if profile is None:
            return None
        rewards = self.runtime.rewards.for_contact(shop_id, profile.contact_id)
        return contact_view(profile, self.runtime.shops.playbook(shop_id), self.clock.now(), rewards)

    def stats(self) -> dict[str, Any]:
        """What the engine holds, summed up (a Scan: fine for a laptop, never for production)."""
        from collections import Counter

        from comeback.aws.contact_store import stored

        ddb = self._emulator.client("dynamodb")
        contacts: Counter[str] = Counter()
        stages: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        held: Counter[str] = Counter()  # messages waiting for a cap or quiet hours, by campaign
        now = self.clock.now()
        scan = ddb.get_paginator("scan").paginate(
            TableName=self.settings.table_name,
            FilterExpression="sk = :profile OR begins_with(sk, :message) OR begins_with(sk, :held)",
            ExpressionAttributeValues={
                ":profile": {"S": "PROFILE"},
                ":message": {"S": "MSG#"},
                ":held": {"S": "HOLD#"},
            },
        )
        for page in scan:
            for item in page["Items"]:
                sk = item["sk"]["S"]
                if sk == "PROFILE":
                    profile = stored(item).profile
                    if profile.merged_into:
                        contacts["merged"] += 1
                        continue
                    if profile.erased_at:
                        contacts["erased"] += 1
                        continue
                    view = contact_view(profile, self.runtime.shops.playbook(profile.shop_id), now)
                    contacts["total"] += 1
                    contacts["customers"] += bool(view["orders_count"])
                    contacts["subscribed"] += view["subscribed"]
                    contacts["suppressed"] += view["suppressed"]
                    contacts["points_balance"] += view["points_balance"]
                    contacts["total_spent_minor"] += view["total_spent_minor"]
                    stages[view["stage"]] += 1
                elif sk.startswith("HOLD#"):
                    held[sk.split("#")[1]] += 1
                elif sk.startswith("MSG#"):
                    status = item["status"]["S"]
                    campaign = item["campaign"]["S"]
                    messages[f"{campaign}:{status}"] += 1
                    if status == "skipped":
                        skipped[item.get("reason", {}).get("S", "?")] += 1
        return {
            "now": isoformat(now),
            "contacts": dict(contacts),
            "stages": dict(stages),
            "messages": dict(messages),
            "skipped": dict(skipped),
            "held": dict(held),
            "emails_sent": len(self._emulator.sent_emails()),
            "dead_letters": {k: len(v) for k, v in self.dead_letters().items()},
        }

    def dead_letters(self) -> dict[str, list[dict[str, Any]]]:
        sqs = self._emulator.client("sqs")
        letters: dict[str, list[dict[str, Any]]] = {}
        for name, url in self.resources.dlq_urls.items():
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
            letters[name] = [
                {"message_id": m["MessageId"], "body": m["Body"]} for m in answer.get("Messages", [])
            ]
        return letters

    def ses_event(self, message_id: str, event_type: str) -> dict[str, Any]:
        """Feed back the EventBridge event SES would publish for one of the sent messages."""
        sent = next((m for m in self._emulator.sent_emails() if m.id == message_id), None)
        if sent is None:
            raise LookupError(f"no sent message {message_id!r}")
        if event_type not in SES_EVENT_TYPES:
            raise ValueError(f"type is one of {', '.join(SES_EVENT_TYPES)}")
        view = mailbox.entry(sent, self.mailer.tags(message_id))
        event = ses_eventbridge_event(view, event_type, self.clock.now())
        answer = self._emulator.client("events").put_events(
            Entries=[
                {
                    "EventBusName": DEFAULT_BUS,
                    "Source": SES_SOURCE,
                    "DetailType": event["detail-type"],
                    "Detail": json.dumps(event["detail"]),
                    "Time": self.clock.now(),
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"the bus refused the SES event: {answer['Entries']}")
        drained = self.drain()
        return {"published": event, "drained": drained}

    # -- the gateway -------------------------------------------------------------------------
    def invoke_route(self, route: Route, params: dict[str, str], request: dict[str, Any]) -> dict[str, Any]:
        event = api_gateway_event(route, params, request, self.clock.now())
        return self._invokers[route.function](event)  # type: ignore[no-any-return]


def ses_eventbridge_event(view: dict[str, Any], event_type: str, now: datetime) -> dict[str, Any]:
    """The event SES publishes to EventBridge for `event_type` on a sent message (SES docs' shape)."""
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    to = view["to"]
    mail = {
        "timestamp": view["sent_at"],
        "source": view["from"],
        "sendingAccountId": ACCOUNT,
        "messageId": view["message_id"],
        "destination": [to],
        "headersTruncated": False,
        "headers": [{"name": k, "value": v} for k, v in view["headers"].items()],
        "commonHeaders": {
            "from": [view["from"]],
            "to": [to],
            "messageId": view["message_id"],
            "subject": view["subject"],
        },
        "tags": {**{k: [v] for k, v in view["tags"].items()}, "ses:configuration-set": ["comeback"]},
    }
    details: dict[str, dict[str, Any]] = {
        "Bounce": {
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": to,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": stamp,
                "feedbackId": f"local-{uuid.uuid4()}",
                "reportingMTA": "dsn; local.emulator",
            }
        },
        "Complaint": {
            "complaint": {
                "complainedRecipients": [{"emailAddress": to}],
                "timestamp": stamp,
                "feedbackId": f"local-{uuid.uuid4()}",
                "complaintFeedbackType": "abuse",
                "arrivalDate": stamp,
            }
        },
        "Delivery": {
            "delivery": {
                "timestamp": stamp,
                "processingTimeMillis": 420,
                "recipients": [to],
                "smtpResponse": "250 2.6.0 Message received",
                "reportingMTA": "local.emulator",
            }
        },
        "Open": {"open": {"ipAddress": "192.0.2.1", "timestamp": stamp, "userAgent": "Mozilla/5.0 (local)"}},
        "Click": {
            "click": {
                "ipAddress": "192.0.2.1",
                "link": _first_link(view.get("text", "")),
                "linkTags": {},
                "timestamp": stamp,
                "userAgent": "Mozilla/5.0 (local)",
            }
        },
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPES[event_type],
        "source": SES_SOURCE,
        "account": ACCOUNT,
        "time": isoformat(now),
        "region": REGION,
        "resources": [],
        "detail": {"eventType": event_type, "mail": mail, **details[event_type]},
    }


def _first_link(text: str) -> str:
    match = re.search(r"https?://\S+", text)
    return match.group(0) if match else "https://shop.example.com/"


def api_gateway_event(
    route: Route, params: dict[str, str], request: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2.0) event, as Lambda receives it."""
    body: bytes = request["body"]
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    query = request.get("query", "")
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": request["path"],
        "rawQueryString": query,
        "headers": request["headers"],
        "queryStringParameters": dict(p.split("=", 1) for p in query.split("&") if "=" in p) or None,
        "pathParameters": params,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": route.method,
                "path": request["path"],
                "protocol": "HTTP/1.1",
                "sourceIp": request.get("source_ip", "127.0.0.1"),
                "userAgent": request["headers"].get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def _route_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")


ROUTES = [(route, _route_pattern(route.path)) for route in TOPOLOGY.routes]


class ControlError(ValueError):
    """A `/_local/*` request whose body or query the endpoint cannot use: a 400, never a 500."""


# What API Gateway HTTP APIs answer themselves, before any function runs: a request whose method
# and path match no route (an unknown path, or a known path with another method: HTTP APIs match
# whole route keys and have no 405), a body over the 10 MB payload quota, a malformed request.
NOT_FOUND = b'{"message":"Not Found"}'
TOO_LARGE = b'{"message":"Request Entity Too Large"}'
BAD_REQUEST = b'{"message":"Bad Request"}'
MAX_BODY = 10 * 1024 * 1024
JSON = {"Content-Type": "application/json"}

# Bounds of the simulated clock: any business scenario fits, and date arithmetic on it (due dates,
# windows of years) stays far from datetime's year-9999 edge, where it would overflow.
CLOCK_MIN = datetime(1970, 1, 1, tzinfo=UTC)
CLOCK_MAX = datetime(3000, 1, 1, tzinfo=UTC)
MAX_ADVANCE_DAYS = 36_500
MAX_DRAIN_SECONDS = 900
MAX_BUS_REFUSALS = 1_000_000
CONTROL_POSTS = {
    "/_local/clock",
    "/_local/sweep",
    "/_local/segments",
    "/_local/drain",
    "/_local/faults",
    "/_local/ses-event",
}


def _schedule(name: str) -> Schedule:
    return next(s for s in TOPOLOGY.schedules if s.name == name)


class _Malformed(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(status)
        self.status, self.body = status, body


def _control_document(body: bytes, fields: set[str]) -> dict[str, Any]:
    """The JSON object of a control request, with only the fields its endpoint knows."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8 or not JSON, a 5,000-digit integer, deep nesting
        raise ControlError("the body is not JSON") from None
    if not isinstance(document, dict):
        raise ControlError("the body must be a JSON object")
    unknown = sorted(set(document) - fields)
    if unknown:
        # a typo such as "advance_day" must not silently do nothing
        raise ControlError(f"unknown field {unknown[0]!r}; expected one of: {', '.join(sorted(fields))}")
    return document


def _number(document: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = document.get(key, default)
    # bool is an int to Python, not a number to a caller; 1e400 parses as infinity
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"{key} must be a number from {low:g} to {high:g}")
    if not low <= value <= high:
        raise ControlError(f"{key} must be a number from {low:g} to {high:g}")
    return float(value)


def _integer(document: dict[str, Any], key: str, high: int) -> int:
    value = document.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ControlError(f"{key} must be an integer from 0 to {high}")
    return value


def _flag(document: dict[str, Any], key: str, default: bool) -> bool:
    value = document.get(key, default)
    if not isinstance(value, bool):
        raise ControlError(f"{key} must be true or false")
    return value


def _text(document: dict[str, Any], key: str) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} is required, as a string")
    return value


def _instant(text: str) -> datetime:
    try:
        instant = parse_iso(text)
    except (ValueError, OverflowError):
        raise ControlError(f"set must be an ISO 8601 instant with a UTC offset, not {text[:40]!r}") from None
    if not CLOCK_MIN <= instant < CLOCK_MAX:
        raise ControlError(f"set must be from {CLOCK_MIN.year} to {CLOCK_MAX.year - 1}")
    return instant


def _snapshot(local: LocalRuntime, _: dict[str, Any]) -> tuple[int, Any]:
    """POST /_local/snapshot: write --data now; 409 when the state is in memory only."""
    try:
        return 200, local.snapshot()
    except LookupError as exc:
        return 409, {"error": str(exc)}


def _handler_for(local: LocalRuntime) -> type[BaseHTTPRequestHandler]:
    class Gateway(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "comeback-local"
        # a client that announces a body and never sends it releases its thread after a minute
        timeout = 60
        # a request line that cannot be read gets its 400 with a status line, not as HTTP/0.9
        default_request_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # Only http.server's own request parsing calls this, for requests it cannot read (an
            # HTTP/2.0 request line gets its 505): the fault is the client's, the answer a 4xx.
            super().send_error(code if code < 500 else 400, message, explain)

        def __getattr__(self, name: str) -> Any:
            # http.server answers 501 for any method without a do_<METHOD>; API Gateway routes every
            # method (TRACE, PUT, PROPFIND...) and answers 404 when no route has it.
            if name.startswith("do_"):
                return lambda: self._dispatch(name[3:])
            raise AttributeError(name)

        def _dispatch(self, method: str) -> None:
            try:
                body = self._read_body()
            except _Malformed as malformed:
                # what is left of the request on the socket cannot be trusted as the next request
                self.close_connection = True
                self._send(malformed.status, {**JSON, "Connection": "close"}, malformed.body)
                return
            url = urlsplit(self.path)
            path = url.path
            try:
                if path.startswith("/_local/"):
                    try:
                        status, payload = self._control(method, path, body, url.query)
                    except ControlError as error:
                        status, payload = 400, {"error": str(error)}
                    self._send(status, JSON, json.dumps(payload, ensure_ascii=False).encode())
                    return
                for route, pattern in ROUTES:
                    match = pattern.match(path)
                    if match and route.method == method:
                        params = {k: unquote(v) for k, v in match.groupdict().items()}
                        headers: dict[str, str] = {}
                        for name, value in self.headers.items():
                            key = name.lower()
                            headers[key] = f"{headers[key]},{value}" if key in headers else value
                        request = {
                            "path": path,
                            "query": url.query,
                            "headers": headers,
                            "body": body,
                            "source_ip": self.client_address[0],
                        }
                        answer = local.invoke_route(route, params, request)
                        self._send_lambda(answer)
                        return
                self._send(404, JSON, NOT_FOUND)
            except Exception as exc:
                # only a bug gets here: every answer a client can provoke is decided above
                logger.exception("local gateway error")
                self._send(500, JSON, json.dumps({"error": str(exc)}).encode())

        def _read_body(self) -> bytes:
            lengths = self.headers.get_all("Content-Length") or []
            chunked = self.headers.get("Transfer-Encoding", "").strip().lower()
            if chunked:
                # both framings at once is how requests are smuggled past a proxy
                if chunked != "chunked" or lengths:
                    raise _Malformed(400, BAD_REQUEST)
                return self._read_chunks()
            if not lengths:
                return b""
            if len(set(lengths)) != 1 or not lengths[0].strip().isdigit() or not lengths[0].isascii():
                raise _Malformed(400, BAD_REQUEST)
            length = int(lengths[0])
            if length > MAX_BODY:
                raise _Malformed(413, TOO_LARGE)
            body = self.rfile.read(length) if length else b""
            if len(body) != length:  # the client closed the connection mid-body
                raise _Malformed(400, BAD_REQUEST)
            return body

        def _read_chunks(self) -> bytes:
            body = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size_text = line.split(b";", 1)[0].strip()
                if (
                    not line.endswith(b"\n")
                    or not size_text
                    or not re.fullmatch(rb"[0-9a-fA-F]{1,8}", size_text)
                ):
                    raise _Malformed(400, BAD_REQUEST)
                size = int(size_text, 16)
                if len(body) + size > MAX_BODY:
                    raise _Malformed(413, TOO_LARGE)
                if size == 0:
                    break
                chunk = self.rfile.read(size)
                if len(chunk) != size or self.rfile.readline(3).strip():
                    raise _Malformed(400, BAD_REQUEST)
                body += chunk
            for _ in range(100):  # trailer fields, up to the empty line
                trailer = self.rfile.readline(8192)
                if trailer in (b"\r\n", b"\n", b""):
                    return bytes(body)
            raise _Malformed(400, BAD_REQUEST)

        def _send_lambda(self, answer: dict[str, Any]) -> None:
            body = answer.get("body") or ""
            data = base64.b64decode(body) if answer.get("isBase64Encoded") else body.encode("utf-8")
            self._send(int(answer.get("statusCode", 200)), dict(answer.get("headers") or {}), data)

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":  # a HEAD answer has the headers of the body it does not carry
                self.wfile.write(data)

        def _control(self, method: str, path: str, body: bytes, query: str = "") -> tuple[int, Any]:
            post = method == "POST"
            if path == "/_local/health":
                return 200, {"ok": True, "now": isoformat(local.clock.now())}
            if path == "/_local/settings":
                # what an operator tool needs to act on this runtime's emulated AWS (comeback shops --local)
                return 200, {**local.settings.model_dump(), "stage": "local"}
            if path == "/_local/snapshot" and post:
                return _snapshot(local, _control_document(body, set()))
            if post and path in CONTROL_POSTS:
                return self._control_post(path, body)
            if path == "/_local/clock":
                return 200, {"now": isoformat(local.clock.now())}
            if path == "/_local/outbox" and method == "GET":
                # ?summary=1: campaign, step, contact and time only (no MIME), for runs of thousands
                # ?last=N: only the N most recent, whole; ?since=K: those after the first K sent
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                if params.get("summary") == "1":
                    return 200, local.mailer.summary()
                last, since = params.get("last", ""), params.get("since", "")
                return 200, local.outbox(
                    int(last) if last.isascii() and last.isdigit() else None,
                    int(since) if since.isascii() and since.isdigit() else None,
                )
            if path == "/_local/queues" and method == "GET":
                return 200, local.queue_depths()
            if path == "/_local/metrics" and method == "GET":
                return 200, {
                    "business": dict(sorted((observability.local_counts or {}).items())),
                    "aws_calls": dict(sorted(local.aws_calls.items())),
                    "emulator": local._emulator.timings(),
                }
            if path == "/_local/aws-calls" and method == "GET":
                return 200, {"calls": local.recorder.as_json()}
            if path == "/_local/stats" and method == "GET":
                return 200, local.stats()
            if path == "/_local/dead-letters" and method == "GET":
                return 200, local.dead_letters()
            if path.startswith("/_local/contacts/") and method == "GET":
                parts = [unquote(p) for p in path.split("/")[3:]]
                if len(parts) != 2 or not all(parts):
                    return 400, {"error": "use /_local/contacts/{shop_id}/{customer_id or email}"}
                view = local.contact(*parts)
                return (200, view) if view else (404, {"error": "no such contact"})
            return 404, {"error": f"no control endpoint {method} {path}"}

        def _control_post(self, path: str, body: bytes) -> tuple[int, Any]:
            if path == "/_local/clock":
                document = _control_document(body, {"advance_days", "set"})
                if "set" in document and "advance_days" in document:
                    raise ControlError("give either set or advance_days, not both")
                if "set" in document:
                    if not isinstance(document["set"], str):
                        raise ControlError("set must be an ISO 8601 instant with a UTC offset")
                    now = local.move_clock(to=isoformat(_instant(document["set"])))
                else:
                    days = _number(document, "advance_days", 0, 0, MAX_ADVANCE_DAYS)
                    if local.clock.now() + timedelta(days=days) >= CLOCK_MAX:
                        raise ControlError(f"the clock stays before {CLOCK_MAX.year}")
                    now = local.move_clock(advance_days=days)
                return 200, {"now": isoformat(now)}
            if path == "/_local/sweep":
                document = _control_document(body, {"drain", "timeout"})
                # a sweep of thousands sends for longer than the default 300 s drain
                timeout = _number(document, "timeout", 300, 1, MAX_DRAIN_SECONDS)
                return 200, local.sweep(timeout=timeout, wait=_flag(document, "drain", True))
            if path == "/_local/segments":
                _control_document(body, set())
                return 200, local.segments()
            if path == "/_local/drain":
                document = _control_document(body, {"timeout"})
                # at least a second: the runtime must look idle twice in a row to count as drained
                drained = local.drain(_number(document, "timeout", 300, 1, MAX_DRAIN_SECONDS))
                # 409, not a 5xx: the runtime is fine, its queues were still busy when the time ran out
                return (200 if drained else 409), {"drained": drained, "queues": local.queue_depths()}
            if path == "/_local/faults":
                document = _control_document(body, {"bus_refusals"})
                refusals = _integer(document, "bus_refusals", MAX_BUS_REFUSALS)
                local.events.arm(refusals)
                return 200, {"bus_refusals": refusals}
            if path == "/_local/ses-event":
                document = _control_document(body, {"message_id", "type"})
                message_id, kind = _text(document, "message_id"), _text(document, "type")
                if kind not in SES_EVENT_TYPES:
                    raise ControlError(f"type is one of {', '.join(SES_EVENT_TYPES)}")
                try:
                    return 200, local.ses_event(message_id, kind)
                except LookupError as exc:
                    return 404, {"error": str(exc)}
                except ValueError as exc:
                    return 400, {"error": str(exc)}
            raise AssertionError(path)  # every path of CONTROL_POSTS is answered above

    return Gateway
