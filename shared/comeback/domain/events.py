"""The canonical shop events of docs/events.md, as pydantic models.

One model per event type, discriminated by `type`. Timestamps must carry an offset and are
normalised to UTC; money is kept as the exact decimal the shop sent (so the event reads like the
request) and converted to integer minor units (`*_minor`) by ISO 4217 exponent, with an error when
the amount has more decimals than the currency allows. Fields we do not know are not dropped: they
land in the model's `attributes`, so a shop can send what it has and nothing is lost, within bounds
(`MAX_ATTRIBUTES` keys, `MAX_ATTRIBUTES_BYTES` serialised, `MAX_ATTRIBUTE_DEPTH` levels per object).

Event times must be plausible: not before 1970 and not more than `FUTURE_ALLOWANCE` (24 h) after we
received the event. The allowance absorbs a shop whose clock or offset is wrong (a local time sent
as UTC is up to 14 h ahead), while an order "placed" ten years from now, which would pin
`last_order_at` and silence win-back for a decade, is refused. Numbers are ASCII: pydantic (and
`Decimal`) would read full-width "４９８０" or Arabic-Indic digits, and `true` as a quantity of 1.
Email addresses are kept in the form SES delivers to: the domain in IDNA (`xn--`) form; a
non-ASCII mailbox name (SMTPUTF8) is refused, since SES cannot send to it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from comeback.domain.clock import isoformat, utc
from comeback.domain.money import MoneyError, exponent, to_minor

EVENT_TYPES = (
    "customer.updated",
    "order.placed",
    "order.refunded",
    "order.fulfilled",
    "product.viewed",
    "cart.updated",
    "checkout.started",
    "site.visited",
    "feedback.submitted",
    "feedback.responded",
    "message.replied",
    "loyalty.joined",
    "referral.completed",
    "customer.deleted",
)

# Events that show the customer doing something (they move `last_activity_at`); the others are the
# shop telling us about the customer.
ACTIVITY_TYPES = frozenset(EVENT_TYPES) - {
    "customer.updated",
    "order.refunded",
    "order.fulfilled",  # the shop shipped or delivered: not the customer acting
    "customer.deleted",
    "feedback.responded",  # the shop's team answered the customer: not the customer acting
}

MAX_EVENTS_PER_BATCH = 100

# What one object's `attributes` may carry. Unknown fields end up in the profile (attr.*) and in the
# event's activity item, both DynamoDB items of at most 400 KB; these keep one event well inside.
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTES_BYTES = 8 * 1024
MAX_ATTRIBUTE_DEPTH = 4

# The window of plausible event times (see the module docstring).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_ALLOWANCE = timedelta(hours=24)
EARLIEST_BIRTHDAY = date(1900, 1, 1)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Bidirectional controls: in a subject line they reorder what the reader sees ("Trojan Source"
# for inboxes), and no name needs them.
BIDI_CONTROLS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def strip_bidi(value: str) -> str:
    return BIDI_CONTROLS.sub("", value)


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _utc(value: datetime) -> datetime:
    # "9999-12-31T23:00:00-05:00" is a valid datetime whose UTC form is past year 9999
    try:
        return utc(value)
    except OverflowError:
        raise ValueError("timestamp out of range") from None


def _not_before_1970(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    return value


def _ascii_only(pattern: str, what: str) -> Any:
    """A before-validator: JSON numbers, or strings of ASCII digits matching `pattern`; never a
    boolean (pydantic would read `true` as 1) nor full-width digits (it would read those too)."""
    compiled = re.compile(pattern, re.ASCII)

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"must be {what}, not a boolean")
        if isinstance(value, str) and not compiled.fullmatch(value.strip()):
            raise ValueError(f"must be {what} in ASCII digits")
        return value

    return check


# amounts ("4980", "49.80", 4980) and counts (2, "2")
_plain_decimal = _ascii_only(
    r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?", "a decimal number such as 4980 or 49.80"
)
_plain_int = _ascii_only(r"[0-9]+", "an integer")


def _deliverable(value: str) -> str:
    """The address as SES takes it: domain in IDNA A-labels; a non-ASCII mailbox is refused."""
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not an address we can deliver to: {exc}") from None
    address = checked.ascii_email or ""
    if len(address) > 254:
        raise ValueError("address longer than 254 characters in its ASCII form")
    return address


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_control)]
ShortText = Annotated[str, Field(max_length=512)]
Name = Annotated[str, Field(max_length=512), AfterValidator(strip_bidi)]
LongText = Annotated[str, Field(max_length=4000)]
Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://")]
Amount = Annotated[Decimal, Field(allow_inf_nan=False, ge=0, max_digits=18), BeforeValidator(_plain_decimal)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$"), AfterValidator(str.upper)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# A time the shop tells us about: also within the plausible window (the future bound needs the
# receipt time, so it is checked by `parse_event` and `EventEnvelope`).
EventTime = Annotated[datetime, AfterValidator(_utc), AfterValidator(_not_before_1970)]
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(_deliverable)]


def _check_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {name!r}") from None
    return name


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_check_zone)]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]


def _check_currency(value: str) -> str:
    try:
        exponent(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None
    return value


KnownCurrency = Annotated[Currency, AfterValidator(_check_currency)]


class Open(BaseModel):
    """A model that keeps unknown fields in `attributes` instead of dropping or refusing them."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    attributes: dict[str, Any] = Field(default_factory=dict, description="Fields we have no column for.")

    @field_validator("attributes")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        check_attributes(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _collect_unknown(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        known = set(cls.model_fields)
        unknown = {k: v for k, v in value.items() if k not in known}
        if not unknown:
            return value
        kept = {k: v for k, v in value.items() if k in known}
        attributes = dict(kept.get("attributes") or {})
        attributes.update(unknown)
        kept["attributes"] = attributes
        return kept


class CustomerRef(Open):
    id: Id | None = Field(None, description="The shop's own customer id (preferred: no lookup needed).")
    email: Email | None = None

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @model_validator(mode="after")
    def _needs_identity(self) -> CustomerRef:
        if not self.id and not self.email:
            raise ValueError("customer needs an id or an email")
        return self


class Priced(Open):
    """Anything with amounts in one currency; checks that every amount fits the currency."""

    currency: KnownCurrency

    def minor(self, amount: Decimal) -> int:
        return to_minor(amount, self.currency)

    @model_validator(mode="after")
    def _amounts_fit_currency(self) -> Priced:
        for name, value in self._amounts():
            try:
                to_minor(value, self.currency)
            except MoneyError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return self

    def _amounts(self) -> list[tuple[str, Decimal]]:
        return []


class LineItem(Open):
    product_id: Id
    sku: ShortText | None = None
    name: ShortText | None = None
    category: ShortText | None = None
    price: Amount
    quantity: Annotated[int, Field(ge=1, le=100_000), BeforeValidator(_plain_int)] = 1


class Items(Priced):
    items: Annotated[list[LineItem], Field(max_length=500)] = Field(default_factory=list)

    def _amounts(self) -> list[tuple[str, Decimal]]:
        return [(f"items[{i}].price", item.price) for i, item in enumerate(self.items)]

    @property
    def categories(self) -> set[str]:
        return {item.category for item in self.items if item.category}


class Address(Open):
    line1: ShortText | None = None
    line2: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: ShortText | None = None
    country: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$"), AfterValidator(str.upper)] | None = None


def _birthday(value: Any) -> Any:
    """Birthdays may come without a year ("--05-14" or "05-14"): stored as 1904-MM-DD (a leap year)."""
    if isinstance(value, str):
        match = re.fullmatch(r"(?:--)?(\d{2})-(\d{2})", value.strip())
        if match:
            return f"1904-{match.group(1)}-{match.group(2)}"
    return value


class CustomerData(Open):
    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    locale: Locale | None = None
    timezone: TimeZoneName | None = None
    birthday: date | None = Field(None, description="YYYY-MM-DD, or --MM-DD when the year is unknown.")
    signed_up_at: EventTime | None = None
    accepts_marketing: bool | None = None
    loyalty_member: bool | None = None
    tags: Annotated[list[ShortText], Field(max_length=100)] | None = None
    address: Address | None = None

    @field_validator("birthday", mode="before")
    @classmethod
    def _year_optional(cls, value: Any) -> Any:
        return _birthday(value)

    @field_validator("tags")
    @classmethod
    def _tags_bounded(cls, value: list[str] | None) -> list[str] | None:
        # kept in the profile for good: the same budget as one object's unknown fields
        size = len(json.dumps(value, ensure_ascii=False).encode()) if value else 0
        if size > MAX_ATTRIBUTES_BYTES:
            raise ValueError(f"tags take {size} bytes, more than {MAX_ATTRIBUTES_BYTES}")
        return value

    @field_validator("birthday")
    @classmethod
    def _born_after_1900(cls, value: date | None) -> date | None:
        if value is not None and value < EARLIEST_BIRTHDAY:
            raise ValueError("must not be before 1900-01-01")
        return value

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class OrderData(Items):
    order_id: Id
    total: Amount
    subtotal: Amount | None = None
    shipping: Amount | None = None
    discount_codes: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)

    def _amounts(self) -> list[tuple[str, Decimal]]:
        extra = [
            (n, v) for n, v in (("subtotal", self.subtotal), ("shipping", self.shipping)) if v is not None
        ]
        return [("total", self.total), *extra, *super()._amounts()]

    @property
    def total_minor(self) -> int:
        return self.minor(self.total)


class RefundData(Priced):
    order_id: Id
    amount: Amount
    reason: ShortText | None = None

    def _amounts(self) -> list[tuple[str, Decimal]]:
        return [("amount", self.amount)]

    @property
    def amount_minor(self) -> int:
        return self.minor(self.amount)


FulfilmentStatus = Literal["shipped", "delivered"]


class FulfilmentData(Open):
    """The shop shipped (or delivered) an order, in whole or in part; `occurred_at` is when."""

    order_id: Id
    status: FulfilmentStatus = Field(
        "shipped", description="shipped (handed to the carrier, the default) or delivered."
    )


class ProductData(Open):
    product_id: Id
    sku: ShortText | None = None
    name: ShortText | None = None
    category: ShortText | None = None
    price: Amount | None = None
    currency: KnownCurrency | None = None
    url: Url | None = None
    image_url: Url | None = None


class CartData(Items):
    cart_id: Id | None = None
    total: Amount | None = None
    url: Url | None = Field(None, description="Where the customer can pick the cart up again.")

    def _amounts(self) -> list[tuple[str, Decimal]]:
        own = [("total", self.total)] if self.total is not None else []
        return [*own, *super()._amounts()]


class CheckoutData(CartData):
    checkout_id: Id | None = None


class VisitData(Open):
    url: Url | None = None
    referrer: Annotated[str, Field(max_length=2048)] | None = None


# Why a customer stopped buying, as a win-back email's one-click links (or the shop) ask it.
FEEDBACK_REASONS = ("price", "experience", "product", "forgot", "other")
FeedbackReason = Literal["price", "experience", "product", "forgot", "other"]


class FeedbackData(Open):
    survey: ShortText = Field(description="Which survey: nps, post_purchase, power_user, inactive_user ...")
    score: Annotated[int, Field(ge=0, le=10), BeforeValidator(_plain_int)] | None = None
    comment: LongText | None = None
    order_id: Id | None = None
    reason: FeedbackReason | None = Field(
        None, description="Why the customer stopped buying: price, experience, product, forgot, other."
    )


class ResponseData(Open):
    """The shop's team answered a customer's feedback: the follow-up task it names is done."""

    task_id: Id | None = Field(
        None, description="The task answered (task.created's task_id); without it, the survey's open task."
    )
    survey: ShortText | None = Field(None, description='Which survey was answered: "nps".')
    note: LongText | None = None
    by: ShortText | None = Field(None, description="Who answered (a name or a team), for the shop's records.")


class ReplyData(Open):
    message_id: ShortText | None = None
    campaign: ShortText | None = None
    channel: ShortText | None = None


class LoyaltyJoinData(Open):
    program: ShortText | None = None


class ReferralData(Open):
    """A completed referral, sent for the referrer (`customer`): who they referred. Its copy for the
    friend (made at ingest, `referral.counterpart`) names the referrer in `referrer` instead."""

    referred_customer_id: Id | None = None
    referred_email: Email | None = None
    # the friend's address, to refuse a referral of the referrer's own household
    referred_address: Address | None = None
    order_id: Id | None = None
    referrer: CustomerRef | None = None


class EmptyData(Open):
    reason: ShortText | None = None


class EventBase(Open):
    id: Id = Field(description="Unique per shop; a repeated id changes nothing.")
    occurred_at: EventTime = Field(
        description="ISO 8601 with an offset; stored in UTC. From 1970 to 24 hours after receipt."
    )
    customer: CustomerRef

    @property
    def is_activity(self) -> bool:
        return self.type in ACTIVITY_TYPES  # type: ignore[attr-defined]


class CustomerUpdated(EventBase):
    type: Literal["customer.updated"]
    data: CustomerData = Field(default_factory=CustomerData)


class OrderPlaced(EventBase):
    type: Literal["order.placed"]
    data: OrderData


class OrderRefunded(EventBase):
    type: Literal["order.refunded"]
    data: RefundData


class OrderFulfilled(EventBase):
    type: Literal["order.fulfilled"]
    data: FulfilmentData


class ProductViewed(EventBase):
    type: Literal["product.viewed"]
    data: ProductData


class CartUpdated(EventBase):
    type: Literal["cart.updated"]
    data: CartData


class CheckoutStarted(EventBase):
    type: Literal["checkout.started"]
    data: CheckoutData


class SiteVisited(EventBase):
    type: Literal["site.visited"]
    data: VisitData = Field(default_factory=VisitData)


class FeedbackSubmitted(EventBase):
    type: Literal["feedback.submitted"]
    data: FeedbackData


class FeedbackResponded(EventBase):
    type: Literal["feedback.responded"]
    data: ResponseData = Field(default_factory=ResponseData)


class MessageReplied(EventBase):
    type: Literal["message.replied"]
    data: ReplyData = Field(default_factory=ReplyData)


class LoyaltyJoined(EventBase):
    type: Literal["loyalty.joined"]
    data: LoyaltyJoinData = Field(default_factory=LoyaltyJoinData)


class ReferralCompleted(EventBase):
    type: Literal["referral.completed"]
    data: ReferralData = Field(default_factory=ReferralData)


COUNTERPART = "~referred"


def referral_counterpart(event: EventBase) -> ReferralCompleted | None:
    """The friend's side of a referral: the same event for the person referred, naming the referrer,
    so both sides are rewarded by their own contact. Its id is derived from the original's, so a
    redelivered referral is a duplicate on both sides. None when there is no friend to name, or the
    referrer named themself."""
    if not isinstance(event, ReferralCompleted) or event.data.referrer is not None:
        return None
    data = event.data
    if not (data.referred_customer_id or data.referred_email):
        return None
    if data.referred_customer_id and data.referred_customer_id == event.customer.id:
        return None
    if (
        data.referred_email
        and event.customer.email
        and data.referred_email.lower() == event.customer.email.lower()
    ):
        return None
    derived = event.id + COUNTERPART
    if len(derived) > 128:
        derived = hashlib.sha256(event.id.encode()).hexdigest()[:64] + COUNTERPART
    friend = CustomerRef(id=data.referred_customer_id, email=data.referred_email)
    referrer = CustomerRef(id=event.customer.id, email=event.customer.email)
    return event.model_copy(
        update={
            "id": derived,
            "customer": friend,
            "data": ReferralData(referrer=referrer, order_id=data.order_id),
        }
    )


class CustomerDeleted(EventBase):
    type: Literal["customer.deleted"]
    data: EmptyData = Field(default_factory=EmptyData)


ShopEvent = Annotated[
    CustomerUpdated
    | OrderPlaced
    | OrderRefunded
    | OrderFulfilled
    | ProductViewed
    | CartUpdated
    | CheckoutStarted
    | SiteVisited
    | FeedbackSubmitted
    | FeedbackResponded
    | MessageReplied
    | LoyaltyJoined
    | ReferralCompleted
    | CustomerDeleted,
    Field(discriminator="type"),
]

EVENT_MODELS: dict[str, type[EventBase]] = {
    "customer.updated": CustomerUpdated,
    "order.placed": OrderPlaced,
    "order.refunded": OrderRefunded,
    "order.fulfilled": OrderFulfilled,
    "product.viewed": ProductViewed,
    "cart.updated": CartUpdated,
    "checkout.started": CheckoutStarted,
    "site.visited": SiteVisited,
    "feedback.submitted": FeedbackSubmitted,
    "feedback.responded": FeedbackResponded,
    "message.replied": MessageReplied,
    "loyalty.joined": LoyaltyJoined,
    "referral.completed": ReferralCompleted,
    "customer.deleted": CustomerDeleted,
}

_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(ShopEvent)


class EventBatch(BaseModel):
    """The request body of `POST /v1/shops/{shop_id}/events` (each event is validated on its own)."""

    model_config = ConfigDict(extra="forbid")
    events: Annotated[list[ShopEvent], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


class Rejection(BaseModel):
    index: int
    error: str


class BatchAnswer(BaseModel):
    """Body of the 202 and 422 answers."""

    accepted: int
    rejected: list[Rejection] = Field(default_factory=list)


class EventEnvelope(BaseModel):
    """The `detail` of every event our ingest function puts on the bus."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shop_id: Id
    received_at: UtcDatetime
    event: ShopEvent

    @model_validator(mode="after")
    def _plausible_times(self) -> EventEnvelope:
        # checked again where the event is applied, so nothing that skipped ingest's check
        # (an old message, a hand-made one) can push a date past what arithmetic can hold
        problem = too_late(self.event, self.received_at)
        if problem:
            raise ValueError(problem)
        return self


def parse_event(raw: Any, received_at: datetime | None = None) -> EventBase:
    """Validate one shop event; raises `InvalidEvent` with a message fit for the shop.

    With `received_at`, the event's times must also be at most `FUTURE_ALLOWANCE` after it.
    """
    try:
        event: EventBase = _EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None
    if received_at is not None:
        problem = too_late(event, received_at)
        if problem:
            raise InvalidEvent(problem)
    return event


def _times(model: BaseModel, path: str = "") -> Iterator[tuple[str, date]]:
    """Every date and datetime the event carries, by its dotted path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, date):  # datetimes are dates too
            yield f"{path}{name}", value
        elif isinstance(value, BaseModel):
            yield from _times(value, f"{path}{name}.")


def too_late(event: EventBase, received_at: datetime) -> str | None:
    """Why one of the event's times is too far after its receipt, or None."""
    received = _utc(received_at)
    latest = received + FUTURE_ALLOWANCE
    for where, value in _times(event):
        late = value > latest if isinstance(value, datetime) else value > latest.date()
        if late:
            hours = int(FUTURE_ALLOWANCE.total_seconds() // 3600)
            return f"{where}: more than {hours} hours after the event was received ({isoformat(received)})"
    return None


def check_attributes(attributes: dict[str, Any]) -> None:
    """Refuse attributes beyond the bounds at the top of this module (ValueError says which)."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} unknown fields per object ({len(attributes)} sent)")
    for key in attributes:
        if len(key) > MAX_ATTRIBUTE_KEY:
            raise ValueError(f"field name {key[:20]!r}... longer than {MAX_ATTRIBUTE_KEY} characters")
    if _depth(attributes) > MAX_ATTRIBUTE_DEPTH:
        raise ValueError(f"unknown fields nested deeper than {MAX_ATTRIBUTE_DEPTH} levels")
    size = len(json.dumps(attributes, ensure_ascii=False, default=str).encode())
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"unknown fields take {size} bytes, more than {MAX_ATTRIBUTES_BYTES}")


def _depth(value: Any) -> int:
    """Nesting depth of a JSON-like value (a scalar is 0, {"a": 1} is 1), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level + 1)
        stack.extend((child, level + 1) for child in children)
    return deepest


class InvalidEvent(ValueError):
    pass


def describe(exc: ValidationError, limit: int = 3) -> str:
    """A short, readable summary of pydantic errors: 'data.total: ...; customer: ...'."""
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        if error["type"] == "union_tag_not_found":
            parts.append("type: required, one of " + ", ".join(EVENT_TYPES))
            continue
        if error["type"] == "union_tag_invalid":
            parts.append(f"type: unknown event type {error['input'].get('type')!r}")
            continue
        # the discriminator adds the event type to the location; the shop did not write it
        loc = [str(p) for p in error["loc"] if p not in EVENT_MODELS]
        where = ".".join(loc) or "event"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
