"""Receiving a shop's batch of events (docs/http-api.md), independent of any HTTP framework.

Checks run cheapest-first and nothing is written before all of them pass: the shop id's shape (400,
before any lookup), size (413), the shop's signature (401, the same answer for a bad signature and
an unknown shop, so nobody learns which shops exist; 503 with Retry-After when the secret store
cannot say), JSON and shape (400), then each event on its own (422 when none is valid). Every
refusal of the first three counts `ShopRefused` by reason. Valid events go on the bus; if the bus
still refuses some after retries the answer is 503 and the shop retries the batch (event ids make
the retry harmless).

Platform webhooks (Shopify, WooCommerce, Segment) take the same road in their own dialect: the
platform's signature with the shop's secret for that platform, then the adapter's mapping, then the
same `accept`. Their redeliveries are harmless because the adapters derive event ids from the
platform's object ids (or message ids), so a redelivered order is the same event, deduplicated
downstream like any repeated id. Topics we don't use answer 200: platforms remove or disable
endpoints that keep failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from comeback.app.observability import count, logger
from comeback.app.signing import SignatureError, verify
from comeback.app.topology import INGEST_SOURCE
from comeback.aws.bus import BusEntry, Publisher, PublishError
from comeback.aws.shops import SecretsUnavailable, valid_shop_id
from comeback.domain import jsonsafe
from comeback.domain.clock import Clock
from comeback.domain.events import (
    MAX_EVENTS_PER_BATCH,
    EventEnvelope,
    InvalidEvent,
    parse_event,
    referral_counterpart,
)
from comeback.platforms import AdapterError, adapter, woocommerce


class SecretSource(Protocol):
    """Raises SecretsUnavailable when the store cannot tell whether the shop has secrets."""

    def signing_secrets(self, shop_id: str) -> list[str]: ...

    def platform_secret(self, shop_id: str, platform: str) -> str | None: ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


UNAUTHORIZED = Answer(401, {"error": "unauthorized"})
BAD_SHOP_ID = Answer(400, {"error": "not a shop id: lower-case letters, digits and dashes, at most 63"})
# Parameter Store throttles and short outages pass within seconds; a shop's sender retries then.
RETRY_AFTER_SECONDS = 30
SECRETS_UNAVAILABLE = Answer(
    503,
    {"error": "the secret store is unavailable; retry later"},
    {"Retry-After": str(RETRY_AFTER_SECONDS)},
)


def _refused(reason: str, shop_id: str, answer: Answer, **extra: Any) -> Answer:
    """Count and log one refusal (never a secret: none is in reach here)."""
    count("ShopRefused", reason=reason)
    # an id of a bad shape is not logged as given: it may be anything, of any length
    shown = shop_id if reason != "shape" else shop_id[:64].encode("unicode_escape").decode()
    log = logger.warning if reason == "unavailable" else logger.info
    log("request refused", extra={"shop_id": shown, "reason": reason, **extra})
    return answer


class Ingest:
    def __init__(
        self,
        secrets: SecretSource,
        publisher: Publisher,
        clock: Clock,
        max_body_bytes: int,
        tolerance_seconds: int,
        signature_clock: Clock | None = None,
    ) -> None:
        self._secrets = secrets
        self._publisher = publisher
        self._clock = clock
        # A shop's signer stamps requests with real time, so freshness is judged on a real clock even
        # where the engine's business time is simulated (the local runtime); None: the same clock.
        self._signature_clock = signature_clock or clock
        self._max_body = max_body_bytes
        self._tolerance = tolerance_seconds

    def authenticate(self, shop_id: str, headers: Mapping[str, str], body: bytes) -> Answer | None:
        """None when the request is the shop's; otherwise the refusal to send."""
        if not valid_shop_id(shop_id):
            return _refused("shape", shop_id, BAD_SHOP_ID)
        if len(body) > self._max_body:
            return Answer(413, {"error": f"body over {self._max_body} bytes"})
        try:
            secrets = self._secrets.signing_secrets(shop_id)
        except SecretsUnavailable as exc:
            return _refused("unavailable", shop_id, SECRETS_UNAVAILABLE, error=str(exc))
        if not secrets:
            return _refused("unknown", shop_id, UNAUTHORIZED)
        try:
            verify(secrets, headers, body, self._signature_clock.now(), self._tolerance)
        except SignatureError as exc:
            return _refused("signature", shop_id, UNAUTHORIZED, detail=str(exc))
        return None

    def receive(self, shop_id: str, headers: Mapping[str, str], body: bytes) -> Answer:
        refusal = self.authenticate(shop_id, headers, body)
        if refusal:
            return refusal
        try:
            document = jsonsafe.loads(body)
        except jsonsafe.UnsafeJson as exc:
            return Answer(400, {"error": str(exc)})
        raw_events = document.get("events") if isinstance(document, dict) else None
        if not isinstance(raw_events, list) or not raw_events:
            return Answer(400, {"error": 'body needs a non-empty "events" list'})
        if len(raw_events) > MAX_EVENTS_PER_BATCH:
            return Answer(400, {"error": f"at most {MAX_EVENTS_PER_BATCH} events per request"})
        return self.accept(shop_id, raw_events)

    def accept(
        self, shop_id: str, raw_events: list[Any], rejected: list[dict[str, Any]] | None = None
    ) -> Answer:
        """Validate each event, publish the valid ones (also used by the platform adapters)."""
        rejected = list(rejected or [])
        entries: list[BusEntry] = []
        accepted = 0
        received_at = self._clock.now()
        for index, raw in enumerate(raw_events):
            try:
                event = parse_event(raw, received_at)
            except InvalidEvent as exc:
                rejected.append({"index": index, "error": str(exc)})
                continue
            accepted += 1
            # a referral is also the friend's: their copy goes to their own contact
            friend = referral_counterpart(event)
            for one in (event, friend) if friend else (event,):
                envelope = EventEnvelope(shop_id=shop_id, received_at=received_at, event=one)
                entries.append(
                    BusEntry(
                        INGEST_SOURCE,
                        envelope.event.type,
                        envelope.model_dump(mode="json", exclude_none=True),
                    )
                )
        answer = {"accepted": accepted, "rejected": rejected}
        if not entries:
            count("EventsRejected", len(rejected))
            return Answer(422, answer)
        try:
            self._publisher.publish(entries)
        except PublishError as exc:
            logger.warning("bus refused events", extra={"shop_id": shop_id, "failed": exc.failed})
            count("EventsBusRefused", exc.failed)
            return Answer(503, {"error": "the event bus is unavailable; retry the whole batch"})
        count("EventsAccepted", accepted)
        if rejected:
            count("EventsRejected", len(rejected))
        logger.info(
            "events accepted", extra={"shop_id": shop_id, "accepted": accepted, "rejected": len(rejected)}
        )
        return Answer(202, answer)

    def receive_platform(
        self, shop_id: str, platform: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        """A webhook in a platform's native form ("shopify", "woocommerce" or "segment")."""
        if not valid_shop_id(shop_id):
            return _refused("shape", shop_id, BAD_SHOP_ID, platform=platform)
        if len(body) > self._max_body:
            return Answer(413, {"error": f"body over {self._max_body} bytes"})
        if platform == "woocommerce" and woocommerce.is_ping(headers, body):
            # unsigned by design and carries nothing; the same 200 for every shop, known or not
            return Answer(200, {"ignored": "WooCommerce webhook ping"})
        module = adapter(platform)
        try:
            secret = self._secrets.platform_secret(shop_id, platform)
        except SecretsUnavailable as exc:
            return _refused("unavailable", shop_id, SECRETS_UNAVAILABLE, platform=platform, error=str(exc))
        if not secret:  # an unknown shop, or none set for this platform
            return _refused("unknown", shop_id, UNAUTHORIZED, platform=platform)
        if not module.verify(secret, body, headers):
            return _refused("signature", shop_id, UNAUTHORIZED, platform=platform)
        try:
            payload = _load_json(body)
        except ValueError as exc:
            return Answer(400, {"error": str(exc)})
        delivery = module.delivery_id(headers, payload)
        # privacy topics (Shopify's) are requests for the contacts function, not events; the
        # privacy module knows which platform sends them
        from comeback.app.privacy import platform_entries

        try:
            privacy = platform_entries(shop_id, platform, headers, payload, self._clock.now())
        except AdapterError as exc:
            return Answer(422, {"accepted": 0, "rejected": [{"index": 0, "error": str(exc)}]})
        if privacy:
            try:
                self._publisher.publish(privacy)
            except PublishError:
                return Answer(503, {"error": "the event bus is unavailable; retry the delivery"})
            count("PrivacyRequestsAccepted")
            return Answer(202, {"accepted": len(privacy), "rejected": []})
        events, origins, rejected = _map_platform(module, headers, payload)
        if not events and not rejected:
            logger.info(
                "platform delivery ignored",
                extra={"shop_id": shop_id, "platform": platform, "delivery_id": delivery},
            )
            return Answer(200, {"ignored": "nothing in this delivery is used"})
        if not events:
            count("EventsRejected", len(rejected))
            logger.info(
                "platform delivery unusable",
                extra={
                    "shop_id": shop_id,
                    "platform": platform,
                    "delivery_id": delivery,
                    "rejected": rejected,
                },
            )
            return Answer(422, {"accepted": 0, "rejected": rejected})
        if rejected:
            count("EventsRejected", len(rejected))
        answer = self.accept(shop_id, events)
        if "rejected" not in answer.body:
            return answer
        # accept() numbers events; the platform's sender knows messages, so report those
        merged = rejected + [{**r, "index": origins[r["index"]]} for r in answer.body["rejected"]]
        return Answer(answer.status, {**answer.body, "rejected": sorted(merged, key=lambda r: r["index"])})


def _load_json(body: bytes) -> Any:
    """The one place a platform body is parsed (ValueError when it is not JSON)."""
    try:
        return jsonsafe.loads(body)
    except jsonsafe.UnsafeJson as exc:
        raise ValueError(str(exc)) from None


def _map_platform(
    module: ModuleType, headers: Mapping[str, str], payload: Any
) -> tuple[list[dict[str, Any]], list[int], list[dict[str, Any]]]:
    """Events, the message each came from, and the messages that could not be mapped.

    A Segment batch is mapped message by message so one odd message is rejected on its own;
    a Shopify or WooCommerce delivery is one message.
    """
    try:
        units = module.messages(payload) if hasattr(module, "messages") else [payload]
    except AdapterError as exc:
        return [], [], [{"index": 0, "error": str(exc)}]
    events: list[dict[str, Any]] = []
    origins: list[int] = []
    rejected: list[dict[str, Any]] = []
    for index, unit in enumerate(units):
        try:
            mapped = module.to_events(headers, unit)
        except AdapterError as exc:
            rejected.append({"index": index, "error": str(exc)})
            continue
        events.extend(mapped)
        origins.extend([index] * len(mapped))
    return events, origins, rejected
