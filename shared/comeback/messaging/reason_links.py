"""One-click "why did you stop shopping with us?" links, and what a click records.

A win-back email may carry one link per reason, `{base}/v1/feedback/{token}?reason=price`. The
token is signed like an unsubscribe token but for another purpose (`tokens.REASON`), so neither
kind of link can be used as the other. The reason itself is not signed: the recipient chooses it.

A click (GET, or a POST of any body to the same URL) records the answer as a `feedback.submitted`
shop event with that reason, put on the bus with source `comeback.ingest` exactly as the ingest
function puts an accepted shop event, so the contacts function applies it like any other. The
event's id comes from the token's signed content, so the first answer to a link is the one kept:
clicking again, or another reason of the same email, is a duplicate the contacts function ignores.
A forged, tampered, expired or unsubscribe token, or an erased contact, records nothing (404); an
unknown reason records nothing (400).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Protocol

from comeback.app.observability import count, logger
from comeback.app.topology import INGEST_SOURCE
from comeback.aws.bus import BusEntry, Publisher, PublishError
from comeback.domain.clock import Clock, isoformat
from comeback.domain.events import FEEDBACK_REASONS, EventEnvelope, InvalidEvent, parse_event
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.messaging.preferences import Page, chosen_locale
from comeback.messaging.render import browser_locale, locale_for, page
from comeback.messaging.tokens import REASON, BadToken, Subscription, TokenSigner

FEEDBACK_PATH = "/v1/feedback/"
# The `survey` of the feedback.submitted a click records (docs/events.md).
SURVEY = "reason"


class ContactFinder(Protocol):
    def find(self, shop_id: str, customer: str) -> Profile | None: ...


class PlaybookSource(Protocol):
    def playbook(self, shop_id: str) -> Playbook: ...


def reason_links(
    signer: TokenSigner, base_url: str, shop_id: str, contact_id: str, message_key: str
) -> dict[str, str]:
    """reason -> the one-click URL that answers it, for every reason of `FEEDBACK_REASONS`."""
    token = signer.issue(shop_id, contact_id, message_key, purpose=REASON)
    base = base_url.rstrip("/")
    return {reason: f"{base}{FEEDBACK_PATH}{token}?reason={reason}" for reason in FEEDBACK_REASONS}


def answer_id(subscription: Subscription) -> str:
    """The feedback event's id: from what the token signs, not its text, so that another encoding
    of the same token (base64 accepts a few) cannot record a second answer."""
    signed = "\x1f".join(
        (
            subscription.shop_id,
            subscription.contact_id,
            subscription.message_key or "",
            str(subscription.issued_at),
        )
    )
    return "reason-" + hashlib.sha256(signed.encode()).hexdigest()[:32]


def _customer(profile: Profile) -> dict[str, str] | None:
    # the shop's id when there is one (no lookup, no address on the bus); else the address the
    # email went to, which resolves to this contact
    if profile.customer_id:
        return {"id": profile.customer_id}
    if profile.email_address:
        return {"email": profile.email_address}
    return None


def answer_entry(shop_id: str, raw: dict[str, Any], now: datetime, what: str) -> BusEntry | None:
    """A one-click answer's bus entry, built and validated as ingest builds an accepted event (the
    reason links' and the NPS score links'); None for a contact whose stored identity no shop event
    could carry (nothing we can record)."""
    try:
        event = parse_event(raw, now)
    except InvalidEvent as exc:
        logger.warning(f"{what} answer not recordable", extra={"error": str(exc)})
        return None
    envelope = EventEnvelope(shop_id=shop_id, received_at=now, event=event)
    return BusEntry(INGEST_SOURCE, envelope.event.type, envelope.model_dump(mode="json", exclude_none=True))


class ReasonAnswers:
    def __init__(
        self,
        tokens: TokenSigner,
        contacts: ContactFinder,
        shops: PlaybookSource,
        publisher: Publisher,
        clock: Clock,
    ) -> None:
        self._tokens = tokens
        self._contacts = contacts
        self._shops = shops
        self._publisher = publisher
        self._clock = clock

    def answer(
        self, token: str, reason: str | None, accept_language: str | None = None, lang: str | None = None
    ) -> Page:
        invalid = Page(404, page("invalid", chosen_locale(lang) or browser_locale(accept_language), {}))
        try:
            subscription = self._tokens.read(token, REASON)
        except BadToken as exc:
            logger.info("reason token refused", extra={"reason": str(exc)})
            count("ReasonTokensRefused")
            return invalid
        profile = self._contacts.find(subscription.shop_id, subscription.contact_id)
        customer = _customer(profile) if profile is not None and not profile.erased_at else None
        if profile is None or customer is None:
            return invalid
        playbook = self._shops.playbook(subscription.shop_id)
        default = playbook.shop.default_locale
        locale = chosen_locale(lang) or locale_for(
            profile.field("locale") or browser_locale(accept_language, default), default
        )
        context: dict[str, Any] = {
            "shop": {"name": playbook.shop.name, "postal_address": playbook.shop.postal_address},
            "reason": reason,
        }
        if reason not in FEEDBACK_REASONS:
            count("ReasonAnswersRefused")
            return Page(400, page("reason_unknown", locale, context))
        now = self._clock.now()
        entry = self._entry(subscription, customer, reason, now)
        if entry is None:
            return invalid
        try:
            self._publisher.publish([entry])
        except PublishError as exc:
            logger.warning("bus refused a reason answer", extra={"failed": exc.failed})
            count("EventsBusRefused")
            return Page(503, page("unavailable", locale, context))
        count("ReasonAnswersReceived")
        logger.info(
            "reason answer received",
            extra={
                "shop_id": subscription.shop_id,
                "contact_id": profile.contact_id,
                "message_key": subscription.message_key,
                "feedback_reason": reason,
            },
        )
        return Page(200, page("reason_thanks", locale, context))

    def _entry(
        self, subscription: Subscription, customer: dict[str, str], reason: str, now: datetime
    ) -> BusEntry | None:
        """The bus entry of the answer, built and validated as ingest builds an accepted event."""
        raw = {
            "id": answer_id(subscription),
            "type": "feedback.submitted",
            "occurred_at": isoformat(now),
            "customer": customer,
            "data": {
                "survey": SURVEY,
                "reason": reason,
                # which email asked (campaign#step#period), for whoever measures the question
                "attributes": {"message_key": subscription.message_key} if subscription.message_key else {},
            },
        }
        return answer_entry(subscription.shop_id, raw, now, "reason")
