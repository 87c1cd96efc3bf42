"""The composition root: every dependency a function needs, built lazily from `Settings`.

A Lambda container builds one `Runtime` from its environment on first use. The local runtime and
the tests build their own (simulated clock, emulator endpoint, fault-injecting fakes) and
`install` it; handlers only ever ask `current()`. Nothing here touches AWS until it is used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from comeback.app.settings import Settings, settings_from_env
from comeback.aws import clients as aws
from comeback.domain.clock import Clock, SystemClock

if TYPE_CHECKING:
    from comeback.app.contacts import ContactEvents
    from comeback.app.ingest import Ingest
    from comeback.app.segments import SegmentJob
    from comeback.app.sweep import Sweep
    from comeback.app.tasks import TaskDesk
    from comeback.aws.bus import Publisher
    from comeback.aws.contact_store import ContactStore
    from comeback.aws.mailer import Mailer
    from comeback.aws.message_store import MessageStore
    from comeback.aws.outbox import Outbox
    from comeback.aws.pauses import PauseStore
    from comeback.aws.product_store import DynamoProductStore
    from comeback.aws.reward_store import DynamoRewardStore
    from comeback.aws.shops import ShopDirectory
    from comeback.messaging.preferences import Preferences
    from comeback.messaging.reason_links import ReasonAnswers
    from comeback.messaging.score_links import ScoreAnswers
    from comeback.messaging.sender import Sender
    from comeback.messaging.ses_feedback import Feedback
    from comeback.messaging.tokens import TokenSigner


@dataclass
class Runtime:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    # Real time, whatever `clock` says: what signature freshness is judged on (docs/http-api.md).
    wall_clock: Clock = field(default_factory=SystemClock)
    # Overrides for tests and the local runtime; None means "build the real one".
    publisher_override: Publisher | None = None
    mailer_override: Mailer | None = None

    def client(self, service: str) -> Any:
        return aws.client(service, self.settings)

    @cached_property
    def shops(self) -> ShopDirectory:
        from comeback.aws.shops import ShopDirectory

        return ShopDirectory(self.settings)

    @cached_property
    def publisher(self) -> Publisher:
        if self.publisher_override is not None:
            return self.publisher_override
        from comeback.aws.bus import EventBridgePublisher

        return EventBridgePublisher(self.client("events"), self.settings.bus_name)

    @cached_property
    def ingest(self) -> Ingest:
        from comeback.app.ingest import Ingest

        return Ingest(
            self.shops,
            self.publisher,
            self.clock,
            self.settings.max_body_bytes,
            self.settings.signature_tolerance_seconds,
            signature_clock=self.wall_clock,
        )

    @cached_property
    def contacts(self) -> ContactStore:
        from comeback.aws.contact_store import ContactStore

        return ContactStore(self.client("dynamodb"), self.settings.table_name, self.settings.due_shards)

    @cached_property
    def messages(self) -> MessageStore:
        from comeback.aws.message_store import MessageStore

        return MessageStore(self.client("dynamodb"), self.settings.table_name)

    @cached_property
    def outbox(self) -> Outbox:
        from comeback.aws.outbox import SqsOutbox

        return SqsOutbox(self.client("sqs"), self.settings.queue_url("outbox"))

    @cached_property
    def rewards(self) -> DynamoRewardStore:
        from comeback.aws.reward_store import DynamoRewardStore

        return DynamoRewardStore(self.client("dynamodb"), self.settings.table_name)

    @cached_property
    def sweep(self) -> Sweep:
        from comeback.app.sweep import Sweep
        from comeback.aws.due_store import DynamoDueStore
        from comeback.aws.work_queue import SqsWorkQueue

        return Sweep(
            due=DynamoDueStore(self.client("dynamodb"), self.settings.table_name),
            playbooks=self.shops.playbook,
            outbox=self.outbox,
            rewards=self.rewards,
            publisher=self.publisher,
            clock=self.clock,
            shards=self.settings.due_shards,
            work=SqsWorkQueue(self.client("sqs"), self.settings.queue_url("sweep"))
            if "sweep" in self.settings.queue_urls
            else None,
            products=self.products,
            tasks=self.tasks,
        )

    @cached_property
    def products(self) -> DynamoProductStore:
        from comeback.aws.product_store import DynamoProductStore

        return DynamoProductStore(self.client("dynamodb"), self.settings.table_name, self.clock)

    @cached_property
    def segments(self) -> SegmentJob:
        from comeback.app.segments import SegmentJob
        from comeback.aws.segment_store import DynamoSegmentStore
        from comeback.aws.work_queue import SqsWorkQueue

        store = DynamoSegmentStore(
            self.client("dynamodb"), self.settings.table_name, self.settings.due_shards
        )
        work = SqsWorkQueue(self.client("sqs"), self.settings.queue_url("sweep"))
        return SegmentJob(store, self.clock, work if "sweep" in self.settings.queue_urls else None)

    @cached_property
    def events(self) -> ContactEvents:
        from comeback.app.contacts import ContactEvents

        # contacts asks for no message (recipes queue theirs for the sweep); one that did would need a grant
        outbox = self.outbox if "outbox" in self.settings.queue_urls else None
        from comeback.app.products import ProductKnowledge

        return ContactEvents(
            self.contacts,
            self.shops.playbook,
            self.rewards,
            self.publisher,
            outbox,
            self.clock,
            products=ProductKnowledge(self.products, self.clock),
            tasks=self.tasks,
        )

    @cached_property
    def tasks(self) -> TaskDesk:
        """The team's follow-up tasks: the store, and the team's email and SNS topic for new ones."""
        from comeback.app.tasks import TaskDesk
        from comeback.aws.task_store import DynamoTaskStore
        from comeback.aws.topic import SnsTopic

        topic = self.settings.task_topic_arn
        return TaskDesk(
            DynamoTaskStore(self.client("dynamodb"), self.settings.table_name),
            mailer=self.mailer,
            topic=SnsTopic(self.client("sns"), topic) if topic else None,
        )

    @cached_property
    def tokens(self) -> TokenSigner:
        from comeback.messaging.tokens import TokenSigner, key_source

        return TokenSigner(key_source(self.settings), self.clock)

    @cached_property
    def mailer(self) -> Mailer:
        if self.mailer_override is not None:
            return self.mailer_override
        from comeback.aws.mailer import SesMailer

        return SesMailer(self.client("sesv2"), self.settings.ses_configuration_set)

    @cached_property
    def preferences(self) -> Preferences:
        from comeback.messaging.preferences import Preferences

        return Preferences(self.tokens, self.contacts, self.shops, self.clock)

    @cached_property
    def reasons(self) -> ReasonAnswers:
        from comeback.messaging.reason_links import ReasonAnswers

        return ReasonAnswers(self.tokens, self.contacts, self.shops, self.publisher, self.clock)

    @cached_property
    def scores(self) -> ScoreAnswers:
        from comeback.messaging.score_links import ScoreAnswers

        return ScoreAnswers(self.tokens, self.contacts, self.shops, self.publisher, self.clock)

    @cached_property
    def feedback(self) -> Feedback:
        from comeback.messaging.ses_feedback import Feedback

        return Feedback(self.contacts, self.messages, self.shops)

    @cached_property
    def sender(self) -> Sender:
        from comeback.messaging.sender import Sender

        return Sender(
            contacts=self.contacts,
            messages=self.messages,
            shops=self.shops,
            mailer=self.mailer,
            tokens=self.tokens,
            clock=self.clock,
            settings=self.settings,
            outbox=self.outbox,
            pauses=self.pauses,
        )

    @cached_property
    def pauses(self) -> PauseStore:
        from comeback.aws.pauses import PauseStore

        return PauseStore(self.client("dynamodb"), self.settings.table_name)


_lock = threading.Lock()
_current: Runtime | None = None


def current() -> Runtime:
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Runtime(settings_from_env())
    return _current


def install(runtime: Runtime | None) -> None:
    """Make `runtime` the one handlers use (None: rebuild from the environment on next use)."""
    global _current
    with _lock:
        _current = runtime
