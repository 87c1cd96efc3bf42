"""One-click NPS scores: eleven signed links in the `nps` email, and what a click (and a comment) records.

Each link is `{base}/v1/score/{token}`, its token signed for purpose `tokens.SCORE` with the score
itself in the signed payload: a link altered to another score, a forged one, an expired one or an
unsubscribe token records nothing and answers 404 (the invalid-link page); an erased contact too.

A GET records the score as a `feedback.submitted` shop event (survey `nps`, score, the email's
message key in `attributes`) put on the bus with source `comeback.ingest`, exactly as the ingest
function puts an accepted event, so dedupe, the profile and every recipe see it like any other.
Its id comes from what the token signs *except the score* (shop, contact, email, issue time): the
first click on an email's links is the answer kept, and a second click, on the same or another
score, is a duplicate the contacts function drops. The page thanks and offers a comment form.

A POST of that form (`comment=...`) records a second `feedback.submitted` of the same answer with
the comment (its own id, the same for every POST of that email: the first comment is kept). A POST
without a comment records nothing (400).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from comeback.app.observability import count, logger
from comeback.aws.bus import BusEntry, Publisher, PublishError
from comeback.domain.clock import Clock, isoformat
from comeback.domain.profile import Profile
from comeback.messaging.preferences import Page, chosen_locale, read_form
from comeback.messaging.reason_links import ContactFinder, PlaybookSource, _customer, answer_entry
from comeback.messaging.render import browser_locale, locale_for, page
from comeback.messaging.tokens import SCORE, BadToken, Subscription, TokenSigner

SCORE_PATH = "/v1/score/"
SURVEY = "nps"
SCORES = tuple(range(11))
MAX_COMMENT = 4000


def score_links(
    signer: TokenSigner, base_url: str, shop_id: str, contact_id: str, message_key: str
) -> list[dict[str, Any]]:
    """The eleven links of an NPS email, 0 to 10: `[{"score": 0, "url": ...}, ...]`."""
    base = base_url.rstrip("/")
    return [
        {
            "score": score,
            "url": f"{base}{SCORE_PATH}"
            + signer.issue(shop_id, contact_id, message_key, purpose=SCORE, value=str(score)),
        }
        for score in SCORES
    ]


def answer_id(subscription: Subscription, part: str) -> str:
    """The event id of an email's score (`part` "score") or comment ("comment"): from what the token
    signs, the score left out, so any of the email's eleven links answers it once."""
    signed = "\x1f".join(
        (
            subscription.shop_id,
            subscription.contact_id,
            subscription.message_key or "",
            str(subscription.issued_at),
        )
    )
    return f"nps-{part}-" + hashlib.sha256(signed.encode()).hexdigest()[:32]


def score_of(subscription: Subscription) -> int | None:
    value = subscription.value
    if value is None or not value.isdigit() or int(value) not in SCORES:
        return None
    return int(value)


class ScoreAnswers:
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
        self,
        token: str,
        accept_language: str | None = None,
        lang: str | None = None,
        body: str | None = None,
        content_type: str | None = None,
    ) -> Page:
        """A click (GET: `body` None) records the score; a POST of the page's form, the comment."""
        invalid = Page(404, page("invalid", chosen_locale(lang) or browser_locale(accept_language), {}))
        try:
            subscription = self._tokens.read(token, SCORE)
        except BadToken as exc:
            logger.info("score token refused", extra={"reason": str(exc)})
            count("ScoreTokensRefused")
            return invalid
        score = score_of(subscription)
        profile = self._contacts.find(subscription.shop_id, subscription.contact_id)
        customer = _customer(profile) if profile is not None and not profile.erased_at else None
        if score is None or profile is None or customer is None:
            return invalid
        playbook = self._shops.playbook(subscription.shop_id)
        default = playbook.shop.default_locale
        locale = chosen_locale(lang) or locale_for(
            profile.field("locale") or browser_locale(accept_language, default), default
        )
        context: dict[str, Any] = {
            "shop": {"name": playbook.shop.name, "postal_address": playbook.shop.postal_address},
            "score": score,
            "action": token + (f"?lang={lang}" if chosen_locale(lang) else ""),
            "commented": False,
        }
        comment: str | None = None
        if body is not None:
            comment = " ".join(read_form(body, content_type).get("comment", [""])[0].split()) or None
            if comment is None:
                count("ScoreCommentsRefused")
                return Page(400, page("bad_request", locale, {}))
            comment = comment[:MAX_COMMENT]
        now = self._clock.now()
        entry = self._entry(subscription, profile, customer, score, comment, now)
        if entry is None:
            return invalid
        try:
            self._publisher.publish([entry])
        except PublishError as exc:
            logger.warning("bus refused an NPS answer", extra={"failed": exc.failed})
            count("EventsBusRefused")
            return Page(503, page("unavailable", locale, context))
        count("ScoreCommentsReceived" if comment else "ScoreAnswersReceived")
        logger.info(
            "NPS answer received",
            extra={
                "shop_id": subscription.shop_id,
                "contact_id": profile.contact_id,
                "message_key": subscription.message_key,
                "score": score,
                "commented": comment is not None,
            },
        )
        context["commented"] = comment is not None
        return Page(200, page("score_thanks", locale, context))

    def _entry(
        self,
        subscription: Subscription,
        profile: Profile,
        customer: dict[str, str],
        score: int,
        comment: str | None,
        now: datetime,
    ) -> BusEntry | None:
        """The bus entry of the answer, built and validated as ingest builds an accepted event."""
        data: dict[str, Any] = {"survey": SURVEY, "score": score}
        if comment:
            data["comment"] = comment
        if subscription.message_key:
            data["attributes"] = {"message_key": subscription.message_key}
        raw = {
            "id": answer_id(subscription, "comment" if comment else "score"),
            "type": "feedback.submitted",
            "occurred_at": isoformat(now),
            "customer": customer,
            "data": data,
        }
        return answer_entry(subscription.shop_id, raw, now, "NPS")
