"""The canonical shop events of DESIGN.md §4.1, as pydantic models.

One model per event type, discriminated by `type`. Timestamps must carry an offset and are
normalised to UTC; money is kept as the exact decimal the shop sent (so the event reads like the
request) and converted to integer minor units (`*_minor`) by ISO 4217 exponent, with an error when
the amount has more decimals than the currency allows. Fields we do not know are not dropped: they
land in the model's `attributes`, so a shop can send what it has and nothing is lost.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from comeback.clock import utc
from comeback.money import MoneyError, exponent, to_minor

EVENT_TYPES = (
    "customer.updated",
    "order.placed",
    "order.refunded",
    "product.viewed",
    "cart.updated",
    "checkout.started",
    "site.visited",
    "feedback.submitted",
    "message.replied",
    "loyalty.joined",
    "referral.completed",
    "customer.deleted",
)

# Events that show the customer doing something (they move `last_activity_at`); the others are the
# shop telling us about the customer.
ACTIVITY_TYPES = frozenset(EVENT_TYPES) - {"customer.updated", "order.refunded", "customer.deleted"}

MAX_EVENTS_PER_BATCH = 100

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Id = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_control)]
ShortText = Annotated[str, Field(max_length=512)]
LongText = Annotated[str, Field(max_length=4000)]
Url = Annotated[str, Field(max_length=2048, pattern=r"^https?://")]
Amount = Annotated[Decimal, Field(allow_inf_nan=False, ge=0, max_digits=18)]
Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$"), AfterValidator(str.upper)]
UtcDatetime = Annotated[datetime, AfterValidator(utc)]


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
    email: EmailStr | None = Field(None, max_length=254)

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
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1


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
    email: EmailStr | None = Field(None, max_length=254)
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    locale: Locale | None = None
    timezone: TimeZoneName | None = None
    birthday: date | None = Field(None, description="YYYY-MM-DD, or --MM-DD when the year is unknown.")
    signed_up_at: UtcDatetime | None = None
    accepts_marketing: bool | None = None
    loyalty_member: bool | None = None
    tags: Annotated[list[ShortText], Field(max_length=100)] | None = None
    address: Address | None = None

    @field_validator("birthday", mode="before")
    @classmethod
    def _year_optional(cls, value: Any) -> Any:
        return _birthday(value)

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


class FeedbackData(Open):
    survey: ShortText = Field(description="Which survey: nps, post_purchase, power_user, inactive_user ...")
    score: Annotated[int, Field(ge=0, le=10)] | None = None
    comment: LongText | None = None
    order_id: Id | None = None


class ReplyData(Open):
    message_id: ShortText | None = None
    campaign: ShortText | None = None
    channel: ShortText | None = None


class LoyaltyJoinData(Open):
    program: ShortText | None = None


class ReferralData(Open):
    referred_customer_id: Id | None = None
    referred_email: EmailStr | None = Field(None, max_length=254)
    order_id: Id | None = None


class EmptyData(Open):
    reason: ShortText | None = None


class EventBase(Open):
    id: Id = Field(description="Unique per shop; a repeated id changes nothing.")
    occurred_at: UtcDatetime = Field(description="ISO 8601 with an offset; stored in UTC.")
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


class MessageReplied(EventBase):
    type: Literal["message.replied"]
    data: ReplyData = Field(default_factory=ReplyData)


class LoyaltyJoined(EventBase):
    type: Literal["loyalty.joined"]
    data: LoyaltyJoinData = Field(default_factory=LoyaltyJoinData)


class ReferralCompleted(EventBase):
    type: Literal["referral.completed"]
    data: ReferralData = Field(default_factory=ReferralData)


class CustomerDeleted(EventBase):
    type: Literal["customer.deleted"]
    data: EmptyData = Field(default_factory=EmptyData)


ShopEvent = Annotated[
    CustomerUpdated
    | OrderPlaced
    | OrderRefunded
    | ProductViewed
    | CartUpdated
    | CheckoutStarted
    | SiteVisited
    | FeedbackSubmitted
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
    "product.viewed": ProductViewed,
    "cart.updated": CartUpdated,
    "checkout.started": CheckoutStarted,
    "site.visited": SiteVisited,
    "feedback.submitted": FeedbackSubmitted,
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


def parse_event(raw: Any) -> EventBase:
    """Validate one shop event; raises `InvalidEvent` with a message fit for the shop."""
    try:
        return _EVENT_ADAPTER.validate_python(raw)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise InvalidEvent(describe(exc)) from None


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
