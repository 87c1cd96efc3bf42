"""The preference centre and one-click unsubscribe (RFC 8058), behind a signed token.

A POST of `List-Unsubscribe=One-Click` (what Gmail and Yahoo send when the recipient presses
"Unsubscribe") leaves everything at once. The page (GET) lets the recipient keep some topics and
leave others, or leave everything with one button. A token that does not verify changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from comeback.app.observability import count, logger
from comeback.domain.clock import Clock, isoformat
from comeback.domain.messages import TOPICS
from comeback.domain.profile import Profile, empty, lww
from comeback.messaging.render import LOCALES, browser_locale, locale_for, page
from comeback.messaging.tokens import BadToken, Subscription, TokenSigner

ONE_CLICK = "One-Click"


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def chosen_locale(lang: str | None) -> str | None:
    """The locale a `?lang=` asks for, when it is one we have."""
    return lang if lang in LOCALES else None


def read_form(body: str, content_type: str | None) -> dict[str, list[str]]:
    """Form fields of a urlencoded or multipart body (RFC 8058 allows both for one-click)."""
    if (content_type or "").lower().startswith("multipart/form-data"):
        message = BytesParser(policy=policy.default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body.encode("utf-8", "replace")
        )
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                fields.setdefault(name, []).append(str(part.get_content()).strip())
        return fields
    return parse_qs(body, keep_blank_values=True)


def form_action(form: dict[str, list[str]]) -> str | None:
    """What a POST asks for: "one_click", "leave_all", "save"; None when it is none of them.

    Only what RFC 8058 or our own page sends counts: anything else (an empty body, a scanner's probe,
    unknown topics) must change nothing rather than be read as "no topic ticked".
    """
    if form.get("List-Unsubscribe") == [ONE_CLICK]:
        return "one_click"
    if "List-Unsubscribe" in form or not set(form.get("topic", [])) <= set(TOPICS):
        return None
    if "leave_all" in form:
        return "leave_all"
    if "save" in form:
        return "save"
    return None


class Preferences:
    def __init__(self, tokens: TokenSigner, contacts: Any, shops: Any, clock: Clock) -> None:
        self._tokens = tokens
        self._contacts = contacts
        self._shops = shops
        self._clock = clock

    def _read(self, token: str) -> tuple[Subscription, Profile] | None:
        try:
            subscription = self._tokens.read(token)
        except BadToken as exc:
            logger.info("preference token refused", extra={"reason": str(exc)})
            count("UnsubscribeTokensRefused")
            return None
        profile = self._contacts.find(subscription.shop_id, subscription.contact_id)
        if profile is None or profile.erased_at:
            return None
        return subscription, profile

    def show(
        self, token: str, accept_language: str | None = None, saved: bool = False, lang: str | None = None
    ) -> Page:
        found = self._read(token)
        if found is None:
            return Page(404, page("invalid", chosen_locale(lang) or browser_locale(accept_language), {}))
        subscription, profile = found
        playbook = self._shops.playbook(subscription.shop_id)
        # the page's own language switch (?lang=) first, then the contact's, then the browser's
        locale = chosen_locale(lang) or locale_for(
            profile.field("locale") or browser_locale(accept_language, playbook.shop.default_locale),
            playbook.shop.default_locale,
        )
        context = {
            "shop": {"name": playbook.shop.name, "postal_address": playbook.shop.postal_address},
            "topics": [{"id": t, "checked": profile.topic_allowed(t)} for t in TOPICS],
            "unsubscribed": profile.is_unsubscribed,
            "saved": saved,
            "token": token,
        }
        return Page(200, page("preferences", locale, context))

    def submit(
        self,
        token: str,
        body: str,
        accept_language: str | None = None,
        content_type: str | None = None,
        lang: str | None = None,
    ) -> Page:
        found = self._read(token)
        if found is None:
            return Page(404, page("invalid", chosen_locale(lang) or browser_locale(accept_language), {}))
        subscription, profile = found
        form = read_form(body, content_type)
        action = form_action(form)
        if action is None:
            count("PreferenceFormsRefused")
            locale = chosen_locale(lang) or locale_for(
                profile.field("locale"), browser_locale(accept_language)
            )
            return Page(400, page("bad_request", locale, {}))
        if action in ("one_click", "leave_all") and profile.is_unsubscribed:
            # mailbox providers repeat one-click POSTs: the first one decided, a repeat changes
            # nothing (not even the time of the unsubscribe the contact view shows)
            return self.show(token, accept_language, saved=True, lang=lang)
        now = self._clock.now()
        at = isoformat(now)
        ref = "pref:" + hashlib.sha256(f"{token}|{body}|{at}".encode()).hexdigest()[:16]
        change = empty(subscription.shop_id, profile.contact_id)
        if action in ("one_click", "leave_all"):
            change.unsubscribed = lww(True, at, ref)
            count("ContactsUnsubscribed")
        else:
            chosen = set(form.get("topic", []))
            change.topics = {t: lww(t in chosen, at, ref) for t in TOPICS}
            change.unsubscribed = lww(not chosen, at, ref)
            count("PreferencesUpdated")
        self._contacts.apply_delta(
            subscription.shop_id,
            profile.contact_id,
            change,
            f"PREF#{at}#{ref}",
            self._shops.playbook(subscription.shop_id),
            at,
        )
        logger.info(
            "preferences saved",
            extra={
                "shop_id": subscription.shop_id,
                "contact_id": profile.contact_id,
                "message_key": subscription.message_key,
            },
        )
        return self.show(token, accept_language, saved=True, lang=lang)
