"""The shape of the system, declared once.

Which functions exist, which queue feeds which function, which bus rule fills which queue, which
HTTP routes and schedules exist. `infra/` builds AWS resources from this and the local runtime
builds its emulated resources and pollers from this, so the laptop and the cloud cannot drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

BUS_NAME = "comeback"
DEFAULT_BUS = "default"  # SES publishes its events to the account's default bus
INGEST_SOURCE = "comeback.ingest"
# Privacy requests (a customer's export, a whole shop's erasure): internal, for the contacts function
PRIVACY_SOURCE = "comeback.privacy"
# What the engine tells a shop's other systems (comeback.domain.notices): no rule of ours routes it
ENGINE_SOURCE = "comeback.engine"
SES_SOURCE = "aws.ses"
SES_DETAIL_TYPES = (
    "Email Bounced",
    "Email Complaint Received",
    "Email Delivered",
    "Email Opened",
    "Email Clicked",
    "Email Delivery Delayed",
    "Email Rejected",
    "Email Rendering Failed",
    "Email Sent",
    "Email Subscribed",
)


@dataclass(frozen=True)
class Function:
    name: str
    description: str
    timeout_seconds: int
    memory_mb: int = 512

    @property
    def handler_path(self) -> str:
        return f"functions/{self.name}/handler.py"

    @property
    def lambda_handler(self) -> str:
        return "handler.lambda_handler"


@dataclass(frozen=True)
class Queue:
    name: str
    consumer: str
    batch_size: int = 10
    max_receive_count: int = 5
    # Seconds Lambda may wait to fill a batch (0 = deliver as soon as anything is there).
    batching_window_seconds: int = 0

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


@dataclass(frozen=True)
class Rule:
    name: str
    bus: str
    pattern: dict[str, list[object]]
    queue: str


@dataclass(frozen=True)
class Route:
    method: Literal["GET", "POST"]
    path: str  # API Gateway syntax: /v1/shops/{shop_id}/events
    function: str


@dataclass(frozen=True)
class Schedule:
    name: str
    expression: str  # EventBridge Scheduler syntax: rate(1 hour) / cron(...)
    function: str
    description: str = ""


@dataclass(frozen=True)
class Topology:
    functions: tuple[Function, ...]
    queues: tuple[Queue, ...]
    rules: tuple[Rule, ...]
    routes: tuple[Route, ...]
    schedules: tuple[Schedule, ...]
    buses: tuple[str, ...] = field(default=(BUS_NAME,))

    def function(self, name: str) -> Function:
        return next(f for f in self.functions if f.name == name)

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)

    def visibility_timeout(self, queue: Queue) -> int:
        """Six times the consumer's timeout plus the batching window, as AWS advises for Lambda
        event sources (a message may wait the window in a batch before the function starts)."""
        return 6 * self.function(queue.consumer).timeout_seconds + queue.batching_window_seconds

    def queue_of(self, function: str) -> Queue | None:
        return next((q for q in self.queues if q.consumer == function), None)

    def api_only_functions(self) -> frozenset[str]:
        """Functions nothing but API routes invoke: every failure of one (an error, a throttle, a
        timeout) is a 5xx answer, so the API's 5xx alarm watches them (infra monitoring)."""
        routed = {r.function for r in self.routes}
        other = {q.consumer for q in self.queues} | {s.function for s in self.schedules}
        return frozenset(routed - other)


# Seconds the contacts and SES-events event sources wait to fill a batch of ten: a profile is
# updated at most this much later, and nothing waits on it (the sweep runs hourly).
BATCHING_WINDOW_SECONDS = 5
# Functions traced with X-Ray unless the deployment says otherwise (context `traced_functions`):
# the two whose work is a chain of calls a trace explains (the sender: a read, a claim, SES, an
# update; the sweep: queries, rewards, the outbox), and at low volume, inside X-Ray's free 100k
# traces a month at 100k contacts. Ingest is the volume (one trace per webhook request, $1 a month
# at 100k contacts) for one signature check and one PutEvents: its logs and metrics say enough.
TRACED_BY_DEFAULT = ("sender", "sweep")

# What one sender container is asked to keep to; the event source's MaximumConcurrency is the
# account's SES send rate divided by it, so all senders together never exceed the account's rate.
SENDS_PER_CONTAINER = 5.0


def sender_concurrency(ses_max_send_rate: float) -> int:
    """MaximumConcurrency of the sender's event source (SQS event sources accept 2-1000)."""
    return max(2, min(1000, math.ceil(ses_max_send_rate / SENDS_PER_CONTAINER)))


TOPOLOGY = Topology(
    functions=(
        Function("ingest", "Verifies signed shop events and puts them on the bus", timeout_seconds=10),
        Function("contacts", "Applies shop events to customer profiles", timeout_seconds=30),
        Function("sweep", "Finds who is due through the due index and queues their messages", 300, 1024),
        Function("sender", "Sends each queued message through SES exactly once", timeout_seconds=30),
        Function("ses_events", "Applies SES bounces, complaints, opens and clicks", timeout_seconds=30),
        Function("preferences", "One-click unsubscribe and the preference centre", timeout_seconds=10),
    ),
    queues=(
        # fed one message at a time by EventBridge: without a window a quiet stack's batches are
        # one message each (ten times the invocations and receives the cost model counts)
        Queue(
            "contacts", consumer="contacts", batch_size=10, batching_window_seconds=BATCHING_WINDOW_SECONDS
        ),
        # the sweep sends in batches of ten already; a window would only delay every email
        Queue("outbox", consumer="sender", batch_size=10),
        Queue(
            "ses_events",
            consumer="ses_events",
            batch_size=10,
            batching_window_seconds=BATCHING_WINDOW_SECONDS,
        ),
        # one unit per shard of the due index: the hourly sweep fans out over as many invocations
        Queue("sweep", consumer="sweep", batch_size=1),
    ),
    rules=(
        # privacy requests go to the contacts function too; one rule, so one queue grant
        Rule("shop-events", BUS_NAME, {"source": [INGEST_SOURCE, PRIVACY_SOURCE]}, queue="contacts"),
        Rule(
            "ses-events",
            DEFAULT_BUS,
            {"source": [SES_SOURCE], "detail-type": list(SES_DETAIL_TYPES)},
            "ses_events",
        ),
    ),
    routes=(
        Route("POST", "/v1/shops/{shop_id}/events", "ingest"),
        Route("POST", "/v1/shops/{shop_id}/webhooks/shopify", "ingest"),
        Route("POST", "/v1/shops/{shop_id}/webhooks/woocommerce", "ingest"),
        Route("POST", "/v1/shops/{shop_id}/segment", "ingest"),
        Route("GET", "/v1/unsubscribe/{token}", "preferences"),
        Route("POST", "/v1/unsubscribe/{token}", "preferences"),
        # the one-click "why did you stop shopping with us?" answers of a win-back email
        Route("GET", "/v1/feedback/{token}", "preferences"),
        Route("POST", "/v1/feedback/{token}", "preferences"),
        # an NPS email's one-click scores (GET) and the thank-you page's comment form (POST)
        Route("GET", "/v1/score/{token}", "preferences"),
        Route("POST", "/v1/score/{token}", "preferences"),
    ),
    schedules=(
        Schedule("sweep", "rate(1 hour)", "sweep", "Finds due contacts every hour"),
        Schedule("segments", "rate(1 day)", "sweep", "Ranks each shop's buyers in RFM quintiles daily"),
    ),
)
