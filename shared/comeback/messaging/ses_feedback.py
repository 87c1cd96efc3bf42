"""What SES tells us after a send (bounce, complaint, delivery, open, click ...) and what it changes.

SES publishes each event to EventBridge (`source: aws.ses`); the `detail` is the record documented
in the SES developer guide, whose `mail.tags` carry the tags we sent (shop, campaign, step, period,
contact). A permanent bounce suppresses the address; a complaint suppresses and unsubscribes;
opens and clicks are engagement; a click also opens the campaign's attribution window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from comeback.aws.mailer import from_tag_value
from comeback.domain.clock import isoformat, utc
from comeback.domain.profile import Profile, empty, lww

DETAIL_TYPES = {
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "DeliveryDelay": "Email Delivery Delayed",
    "Reject": "Email Rejected",
    "Rendering Failure": "Email Rendering Failed",
    "Send": "Email Sent",
    "Subscription": "Email Subscribed",
}


# The business metric each SES event type counts (the dashboard graphs these).
METRICS = {
    "Bounce": "EmailsBounced",
    "Complaint": "EmailsComplained",
    "Delivery": "EmailsDelivered",
    "Open": "EmailsOpened",
    "Click": "EmailsClicked",
    "DeliveryDelay": "EmailsDelayed",
    "Reject": "EmailsRejected",
}


class Mail(BaseModel):
    model_config = ConfigDict(extra="allow")
    timestamp: datetime
    messageId: str
    destination: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name)
        return values[0] if values else None


class SesEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    eventType: str
    mail: Mail
    bounce: dict[str, Any] | None = None
    complaint: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    open: dict[str, Any] | None = None
    click: dict[str, Any] | None = None
    deliveryDelay: dict[str, Any] | None = None
    reject: dict[str, Any] | None = None

    @property
    def occurred_at(self) -> datetime:
        detail = getattr(self, _FIELD.get(self.eventType, ""), None) or {}
        stamp = detail.get("timestamp")
        return (
            utc(datetime.fromisoformat(stamp.replace("Z", "+00:00"))) if stamp else utc(self.mail.timestamp)
        )

    @property
    def is_permanent_bounce(self) -> bool:
        return self.eventType == "Bounce" and (self.bounce or {}).get("bounceType") == "Permanent"


_FIELD = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Open": "open",
    "Click": "click",
    "DeliveryDelay": "deliveryDelay",
    "Reject": "reject",
}


class Origin(BaseModel):
    """Which message of ours an SES event is about, from the tags we sent."""

    shop_id: str
    contact_id: str
    campaign: str
    step: int
    period: str

    @property
    def message_key(self) -> str:
        return f"{self.campaign}#{self.step}#{self.period}"


def origin(event: SesEvent) -> Origin | None:
    mail = event.mail
    shop, contact, campaign = mail.tag("shop"), mail.tag("contact"), mail.tag("campaign")
    step, period = mail.tag("step"), mail.tag("period")
    if not (shop and contact and campaign and step and period and step.isdigit()):
        return None
    try:
        return Origin(
            shop_id=shop,
            contact_id=from_tag_value(contact),
            campaign=campaign,
            step=int(step),
            period=from_tag_value(period),
        )
    except ValueError:
        return None


def profile_change(event: SesEvent, source: Origin) -> Profile | None:
    """The contact-level change an SES event makes (None when it changes no profile field)."""
    at = isoformat(event.occurred_at)
    ref = f"ses:{event.mail.messageId}:{event.eventType}"
    change = empty(source.shop_id, source.contact_id)
    kind = event.eventType
    if kind == "Bounce":
        if event.is_permanent_bounce:
            change.suppressed = lww("bounce", at, ref)
        else:
            change.soft_bounces = 1
    elif kind == "Complaint":
        change.suppressed = lww("complaint", at, ref)
        change.unsubscribed = lww(True, at, ref)
    elif kind == "Open":
        change.email_opens = 1
        change.last_engaged_at = at
    elif kind == "Click":
        change.email_clicks = 1
        change.last_engaged_at = at
        link = (event.click or {}).get("link")
        change.last_click = lww(
            {"campaign": source.campaign, "step": source.step, "period": source.period, "link": link}, at, ref
        )
    else:
        return None
    return change


def message_fields(event: SesEvent) -> dict[str, Any]:
    """What to note on our message record: `{event}_at` (first time seen)."""
    name = {"DeliveryDelay": "delivery_delayed"}.get(event.eventType, event.eventType.lower())
    fields: dict[str, Any] = {f"{name}_at": isoformat(event.occurred_at)}
    if event.eventType == "Bounce":
        fields["bounce_type"] = (event.bounce or {}).get("bounceType")
    if event.eventType == "Reject":
        fields["reject_reason"] = (event.reject or {}).get("reason")
    return fields


class Feedback:
    """Applies SES events to contacts and message records."""

    def __init__(self, contacts: Any, messages: Any, shops: Any) -> None:
        self._contacts = contacts
        self._messages = messages
        self._shops = shops

    def handle(self, event: SesEvent) -> str:
        from comeback.app.observability import count, logger

        source = origin(event)
        if source is None:
            logger.info("SES event without our tags ignored", extra={"ses_message_id": event.mail.messageId})
            return "ignored"
        contact_id = source.contact_id
        change = profile_change(event, source)
        if change is not None:
            at = isoformat(event.occurred_at)
            applied = self._contacts.apply_delta(
                source.shop_id,
                source.contact_id,
                change,
                f"SES#{event.mail.messageId}#{event.eventType}#{at}",
                self._shops.playbook(source.shop_id),
                at,
            )
            contact_id = applied.contact_id
            if applied.outcome.value == "duplicate":
                return "duplicate"
        self._messages.note(source.shop_id, contact_id, source.message_key, message_fields(event))
        count(METRICS.get(event.eventType, "EmailEventsOther"))
        logger.info(
            "SES event applied",
            extra={"shop_id": source.shop_id, "contact_id": contact_id, "ses_event": event.eventType},
        )
        return "applied"
