"""The sender: one message request in, at most one email out, ever.

For each request: re-read the contact (consent and suppression as they are *now*), decide whether
it may be sent, claim its key, render, call SES once, mark it sent. What happens on each failure:

- not eligible (unsubscribed, no consent, suppressed, came back, stale ...): recorded as skipped;
- inside a frequency cap or quiet hours: held on the due index until the next allowed time (the
  sweep puts it back on the outbox then), or skipped as stale if that is too late;
- the key was claimed or sent before (replay, overlapping sweep): nothing;
- SES throttles: the claim is released and the request goes back on the queue with a backoff;
- SES pauses sending (account paused or suspended, daily quota used up, a shop's sender domain
  not verified): the claim is released, the pause is recorded for the account or the shop, and
  the message is held on the due index until the pause ends, like a capped one; while a pause
  lasts, messages it covers are held before any claim or SES call. Never a DLQ, never a hot loop;
- SES refuses the message for good: recorded as failed, the batch's other messages go on;
- we die after SES accepted it: the claim stays, and is flagged for review instead of resent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from comeback.app.observability import count, logger
from comeback.app.settings import Settings
from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.mailer import Email, Mailer, MailPaused, MailRejected, MailThrottled, tag_value
from comeback.aws.message_store import CONTENDED, Claim, MessageStore, SlotTaken
from comeback.aws.outbox import Outbox
from comeback.aws.pauses import Pause, PauseStore
from comeback.aws.shops import ShopDirectory
from comeback.domain import pacing
from comeback.domain.clock import Clock, parse_iso
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.messaging.ratelimit import RateLimiter
from comeback.messaging.reason_links import reason_links
from comeback.messaging.render import RenderError, locale_for, render
from comeback.messaging.score_links import score_links
from comeback.messaging.tokens import TokenSigner
from comeback.recipes import engine, loyalty

MAX_BACKOFF_SECONDS = 900
# What the sender reads of a profile: who may be written to, and what the message says.
SENDER_READS = (
    "customer_id", "email", "consent", "fields", "topics", "unsubscribed", "suppressed", "erased_at",
    "last_activity_at", "recipes", "sends", "sends_seq", "last_click",
)  # fmt: skip


def _reads() -> tuple[str, ...]:
    """What the sender reads of a profile: its own fields and those the recipes' checks read."""
    return (*SENDER_READS, *engine.profile_reads())


# How often a claim is re-decided when other messages keep taking the contact's send slot first.
SLOT_ATTEMPTS = 5


class Result(enum.StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    NEEDS_REVIEW = "needs_review"
    RETRYING = "retrying"
    PAUSED = "paused"
    FAILED = "failed"


class SlotContention(Exception):
    """Raised to let the queue redeliver: the contact's sends kept changing under us."""


@dataclass(frozen=True)
class Outcome:
    result: Result
    reason: str | None = None
    ses_message_id: str | None = None


def ineligible(
    profile: Profile | None, request: MessageRequest, playbook: Playbook, now: datetime
) -> str | None:
    """Why this message must not go to this contact now, or None if it may."""
    reason = unreachable(profile, request.topic, playbook)
    if reason or profile is None:
        return reason or "no_contact"
    if request.stale(now):
        return "stale"
    # the recipe that asked decides whether its message is still wanted (the customer came back ...)
    reason = engine.still_wanted(profile, request.campaign, request, playbook, now)
    if reason:
        return reason
    if request.holdout:
        return "holdout"  # the recipe's control group: recorded like a send, never emailed
    return None


def display_name(profile: Profile, locale: str) -> str | None:
    first, last = profile.field("first_name"), profile.field("last_name")
    parts = [last, first] if locale == "ja" else [first, last]
    name = " ".join(p for p in parts if p)
    return name or None


class Sender:
    def __init__(
        self,
        contacts: ContactStore,
        messages: MessageStore,
        shops: ShopDirectory,
        mailer: Mailer,
        tokens: TokenSigner,
        clock: Clock,
        settings: Settings,
        outbox: Outbox | None = None,
        limiter: RateLimiter | None = None,
        pauses: PauseStore | None = None,
    ) -> None:
        self._contacts = contacts
        self._messages = messages
        self._shops = shops
        self._mailer = mailer
        self._tokens = tokens
        self._clock = clock
        self._settings = settings
        self._outbox = outbox
        self._limiter = limiter or RateLimiter(settings.ses_max_send_rate / settings.sender_concurrency)
        self._pause_store = pauses
        # pauses this container met itself: seen at once, before the directory's cache is refreshed
        self._pauses: dict[tuple[str, str | None], Pause] = {}

    def handle(self, request: MessageRequest) -> Outcome:
        now = self._clock.now()
        config = self._shops.config(request.shop_id)
        playbook = config.playbook if config else self._shops.playbook(request.shop_id)
        profile = self._contacts.find(request.shop_id, request.contact_id, _reads())
        if profile is not None and profile.contact_id != request.contact_id:
            # asked for under an id since merged into another contact: the ledger is the survivor's
            request = request.model_copy(update={"contact_id": profile.contact_id})
        reason = ineligible(profile, request, playbook, now)
        if reason:
            self._messages.skip(request, reason, now)
            count("MessagesSkipped")
            logger.info("message skipped", extra=_log(request, reason=reason))
            return Outcome(Result.SKIPPED, reason)
        assert profile is not None
        pause = self._paused(request.shop_id, now)
        if pause:
            return self._hold_paused(request, pause, now)

        claim = self._claim(request, profile, playbook, now)
        if isinstance(claim, Outcome):
            return claim
        if not claim.won:
            if claim.existing == "claimed":
                # a sender died between SES and the mark: the email may be out; never risk a second
                count("MessagesNeedReview")
                logger.warning("message claimed but never marked sent", extra=_log(request))
                return Outcome(Result.NEEDS_REVIEW, "claimed_without_send")
            if claim.existing == CONTENDED:
                raise SlotContention(f"{request.key}: the contact's send slot kept changing")
            count("MessagesDuplicate")
            return Outcome(Result.DUPLICATE, claim.existing)

        try:
            email = self._compose(request, profile, playbook, now)
        except RenderError as exc:
            self._messages.mark_failed(request, f"render: {exc}", now)
            count("MessagesFailed")
            logger.error("message could not be rendered", extra=_log(request, reason=str(exc)))
            return Outcome(Result.FAILED, "render")

        self._limiter.acquire()
        try:
            ses_id = self._mailer.send(email)
        except MailPaused as exc:
            return self._pause(request, exc, now)
        except MailThrottled as exc:
            return self._retry_later(request, str(exc), now)
        except MailRejected as exc:
            self._messages.mark_failed(request, f"ses: {exc}", now)
            count("MessagesFailed")
            logger.warning("SES rejected the message", extra=_log(request, reason=str(exc)))
            return Outcome(Result.FAILED, str(exc))
        self._messages.mark_sent(request, ses_id, now)
        count("EmailsSent")
        count(f"{request.campaign.capitalize()}EmailsSent")
        logger.info("message sent", extra=_log(request, ses_message_id=ses_id))
        return Outcome(Result.SENT, ses_message_id=ses_id)

    def _claim(
        self, request: MessageRequest, profile: Profile, playbook: Playbook, now: datetime
    ) -> Claim | Outcome:
        """Claim the message's key and the contact's send slot, or hold it for a later slot."""
        claim: Claim | None = None
        if request.key in profile.sends:
            # its slot was taken before (a replay, or a retry after throttling): the key decides
            claim = self._messages.claim(request, now)
        tz = pacing.zone(profile.field("timezone"), playbook.shop.timezone)
        for _ in range(0 if claim else SLOT_ATTEMPTS):
            slot = pacing.next_slot(now, playbook.messaging, profile.sends, tz)
            if slot > now:
                return self._hold(request, playbook, slot, now)
            sends = pacing.record(profile.sends, request.key, request.campaign, now, playbook.messaging)
            claim = self._messages.claim(request, now, SlotTaken(sends, profile.sends_seq))
            if claim.existing != CONTENDED:
                break
            # another message took the slot first: decide again on what it left
            fresh = self._contacts.get(request.shop_id, profile.contact_id, _reads())
            if fresh is None:
                break
            profile = fresh
        assert claim is not None
        return claim

    def _hold(self, request: MessageRequest, playbook: Playbook, until: datetime, now: datetime) -> Outcome:
        deadline = request.requested_at + timedelta(days=playbook.messaging.max_delay_days)
        if request.not_after is not None:
            deadline = min(deadline, request.not_after)
        if until > deadline:
            self._messages.skip(request, "stale", now)
            count("MessagesDropped")
            logger.info("message dropped: it could not go out in time", extra=_log(request, until=until))
            return Outcome(Result.SKIPPED, "stale")
        shard = keys.due_shard(request.shop_id, request.contact_id, self._settings.due_shards)
        self._messages.defer(request, until, shard, now)
        count("MessagesDeferred")
        logger.info("message held by a cap or quiet hours", extra=_log(request, until=until.isoformat()))
        return Outcome(Result.DEFERRED, until.isoformat())

    def _paused(self, shop_id: str, now: datetime) -> Pause | None:
        """The pause that lasts longest of those covering this shop now (the account's or its own)."""
        known = [self._pauses.get(("account", None)), self._pauses.get(("shop", shop_id))]
        stored = self._shops.sending_pauses(shop_id)
        current = [p for p in (*known, *stored) if p is not None and p.until > now]
        return max(current, key=lambda p: p.until, default=None)

    def _pause(self, request: MessageRequest, exc: MailPaused, now: datetime) -> Outcome:
        """SES will not send for a while: record the pause, then hold this message past it."""
        scope = "account" if exc.scope == "account" else "shop"
        pause = Pause(
            scope=scope,
            shop_id=request.shop_id if scope == "shop" else None,
            until=now + timedelta(seconds=exc.seconds),
            reason=exc.code,
            since=now,
        )
        # release first, as for throttling: the held message claims its key again when it is back
        self._messages.release_for_retry(request, exc.code, now)
        self._pauses[(scope, pause.shop_id)] = pause
        if self._pause_store is not None:
            self._pause_store.pause(pause)
        count("SendingPaused")
        logger.error(
            "SES paused sending: messages are held until the pause ends",
            extra=_log(
                request,
                scope=scope,
                ses_error=exc.code,
                until=pause.until.isoformat(),
                runbook="SES sending paused",
            ),
        )
        return self._hold_paused(request, pause, now)

    def _hold_paused(self, request: MessageRequest, pause: Pause, now: datetime) -> Outcome:
        """Hold on the due index until the pause ends (the sweep puts it back on the outbox then).

        Unlike a cap's hold, no deadline drops it here: when it is back, the usual checks decide
        (a message that has gone stale meanwhile is then recorded as skipped, not lost unseen)."""
        shard = keys.due_shard(request.shop_id, request.contact_id, self._settings.due_shards)
        self._messages.defer(request, pause.until, shard, now)
        count("MessagesPaused")
        logger.info(
            "message held: sending is paused",
            extra=_log(request, scope=pause.scope, reason=pause.reason, until=pause.until.isoformat()),
        )
        return Outcome(Result.PAUSED, pause.reason)

    def _retry_later(self, request: MessageRequest, reason: str, now: datetime) -> Outcome:
        if self._outbox is None:
            raise RuntimeError("the sender needs an outbox to retry throttled messages")
        delay = min(MAX_BACKOFF_SECONDS, 2 ** (request.attempt + 1) * 5)
        # release first: if the re-queue then fails, the queue redelivers this same request and
        # the released claim can be taken again
        self._messages.release_for_retry(request, reason, now)
        self._outbox.send([request.model_copy(update={"attempt": request.attempt + 1})], delay_seconds=delay)
        count("MessagesThrottled")
        logger.warning("SES throttled; message re-queued", extra=_log(request, reason=reason, delay=delay))
        return Outcome(Result.RETRYING, reason)

    def _compose(self, request: MessageRequest, profile: Profile, playbook: Playbook, now: datetime) -> Email:
        shop = playbook.shop
        locale = locale_for(profile.field("locale"), shop.default_locale)
        token = self._tokens.issue(request.shop_id, profile.contact_id, request.key)
        unsubscribe_url = f"{self._settings.public_base_url}/v1/unsubscribe/{token}"
        utm = urlencode({"utm_source": "comeback", "utm_medium": "email", "utm_campaign": request.campaign})
        since = profile.last_activity_at
        standing = loyalty.standing(profile, playbook, now)
        context: dict[str, Any] = {
            "days_since_last_activity": (now - parse_iso(since)).days if since else None,
            **request.data,
            "campaign": request.campaign,
            "step": request.step,
            "locale": locale,
            "shop": {"name": shop.name, "postal_address": shop.postal_address, "url": shop.url},
            "contact": {
                "first_name": profile.field("first_name"),
                "last_name": profile.field("last_name"),
                "name": display_name(profile, locale),
                **{k: v for k, v in standing.items() if k != "loyalty"},
                "free_shipping": bool((standing["loyalty"] or {}).get("free_shipping")),  # a tier's perk
            },
            "cta_url": f"{shop.url}{'&' if '?' in shop.url else '?'}{utm}",
            "unsubscribe_url": unsubscribe_url,
            **engine.context(profile, request, playbook),
        }
        if request.data.get("ask_reason"):
            # one signed one-click link per reason; the answer comes back as feedback.submitted
            context["reason_links"] = reason_links(
                self._tokens, self._settings.public_base_url, request.shop_id, profile.contact_id, request.key
            )
        if request.data.get("ask_score"):
            # eleven signed one-click scores, 0 to 10; the answer comes back as feedback.submitted
            context["score_links"] = score_links(
                self._tokens, self._settings.public_base_url, request.shop_id, profile.contact_id, request.key
            )
        rendered = render(request.campaign, locale, context, playbook.messaging.templates)
        assert profile.email_address is not None
        return Email(
            from_name=shop.sender.from_name,
            from_address=str(shop.sender.from_email),
            reply_to=request.reply_to or (str(shop.sender.reply_to) if shop.sender.reply_to else None),
            to=profile.email_address,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            date=now,
            headers={
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            tags={
                "shop": request.shop_id,
                "campaign": request.campaign,
                "step": str(request.step),
                "period": tag_value(request.period),
                "contact": tag_value(profile.contact_id),
            },
        )


def _log(request: MessageRequest, **extra: Any) -> dict[str, Any]:
    return {"shop_id": request.shop_id, "contact_id": request.contact_id, "message_key": request.key, **extra}
