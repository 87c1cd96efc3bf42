"""The local outbox: every email the emulated SES accepted, as an inbox would receive it."""

from __future__ import annotations

import threading
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from comeback.aws.mailer import Email, Mailer, from_tag_value
from comeback.domain.clock import isoformat


class RecordingMailer:
    """Wraps the real SES mailer; remembers each message's tags, which moto does not keep."""

    def __init__(self, inner: Mailer) -> None:
        self._inner = inner
        self._tags: dict[str, dict[str, str]] = {}
        self._sent_at: dict[str, str] = {}
        self._lock = threading.Lock()

    def send(self, email: Email) -> str:
        message_id = self._inner.send(email)
        with self._lock:
            self._tags[message_id] = dict(email.tags)
            self._sent_at[message_id] = isoformat(email.date)
        return message_id

    def summary(self) -> list[dict[str, Any]]:
        """Who got which message when, without fetching and parsing every email (for big runs)."""
        with self._lock:
            sent = list(self._tags.items())
        return [
            {
                "message_id": message_id,
                "campaign": tags.get("campaign"),
                "step": int(tags["step"]) if tags.get("step", "").isdigit() else None,
                "shop_id": tags.get("shop"),
                "contact_id": from_tag_value(tags["contact"]) if "contact" in tags else None,
                "sent_at": self._sent_at.get(message_id),
            }
            for message_id, tags in sent
        ]

    def state(self) -> dict[str, Any]:
        """What `--data` keeps of the mailer (moto keeps the emails themselves)."""
        with self._lock:
            return {"tags": dict(self._tags), "sent_at": dict(self._sent_at)}

    def restore(self, state: dict[str, Any]) -> None:
        with self._lock:
            self._tags.update(state.get("tags", {}))
            self._sent_at.update(state.get("sent_at", {}))

    def tags(self, message_id: str) -> dict[str, str]:
        with self._lock:
            return dict(self._tags.get(message_id, {}))


def _parts(message: Any) -> tuple[str, str]:
    text = html = ""
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() == "text/plain" and not text:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and not html:
            html = part.get_content()
    return text, html


def entry(raw_message: Any, tags: dict[str, str]) -> dict[str, Any]:
    data = raw_message.raw_data
    parsed = BytesParser(policy=policy.default).parsebytes(data.encode() if isinstance(data, str) else data)
    text, html = _parts(parsed)
    step = tags.get("step")
    return {
        "message_id": raw_message.id,
        "to": str(parsed.get("To", "")),
        "from": str(parsed.get("From", "")),
        "subject": str(parsed.get("Subject", "")),
        "campaign": tags.get("campaign"),
        "step": int(step) if step and step.isdigit() else None,
        "shop_id": tags.get("shop"),
        "contact_id": from_tag_value(tags["contact"]) if "contact" in tags else None,
        "period": from_tag_value(tags["period"]) if "period" in tags else None,
        "tags": tags,
        "headers": {name: str(value) for name, value in parsed.items()},
        "text": text,
        "html": html,
        "sent_at": isoformat(parsedate_to_datetime(parsed["Date"])) if parsed.get("Date") else None,
    }
