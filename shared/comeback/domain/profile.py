"""The customer profile: what one contact's events add up to, as a mergeable value.

Every field says how two partial profiles combine (`Merge`): counters add, first-times take the
minimum, last-times the maximum, attributes keep the last write by event time. Because each rule
is commutative, associative and (for all but the counters) idempotent, the profile of a customer
is the same whatever order the events arrive in; duplicates are stopped earlier, by event id.

`apply(profile, event)` is `merge(profile, delta(event))`. The store turns the same `delta` into a
single DynamoDB update for the usual case (the event is the newest the contact has seen), so the
rules live here once and the fast path cannot drift from them (a property test checks it).

A profile is one DynamoDB item (at most 400 KB), and a shop may send anything, forever, so what it
keeps is bounded: at most `MAX_FIELDS` fields (the shop's unknown fields beyond the known ones
are dropped oldest write first, and a single one over `MAX_ATTRIBUTE_VALUE_BYTES` stays in the
event's history only), `MAX_PRODUCTS` bought products (the set is cut deterministically, as
a set has no order) and the `MAX_INTERESTS` strongest interests (category names cut at
`MAX_INTEREST_KEY` characters). The cuts are functions of the merged value, so order still does
not matter for products and fields; interest counts of a category once dropped restart from zero.
The store's fast path checks with `growth_limits` that its update stays inside these bounds and
leaves the rest to the slow path, which merges (and cuts) here.
"""

from __future__ import annotations

import enum
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.clock import isoformat
from comeback.domain.events import (
    CartUpdated,
    CheckoutStarted,
    CustomerDeleted,
    CustomerUpdated,
    EventBase,
    FeedbackSubmitted,
    OrderData,
    OrderPlaced,
    OrderRefunded,
    ProductViewed,
)

# What one profile keeps (see the module docstring); measured in tests/unit/test_bounds.py.
MAX_ATTRIBUTES_KEPT = 64
MAX_ATTRIBUTE_VALUE_BYTES = 1024
MAX_PRODUCTS = 200
MAX_INTERESTS = 50
MAX_INTEREST_KEY = 100
# Product views by day (`browsed`): at most this many day|product and day|category counters; over
# it, the newest half is kept (so the fast path's next few dozen views need no cut).
MAX_BROWSED = 120
# Order history by month (`order_months`, `spent_months`): the newest this many entries are kept,
# five years of monthly orders in one currency; older months are dropped (the lifetime totals,
# `orders_count` and `spent`, keep counting them). Cutting to the newest keys exactly (not to a
# half, as `browsed` is) keeps the cut a function of the merged value: a month once dropped ranks
# below every kept one for ever, so any arrival order keeps the same months.
MAX_MONTHS = 60
# Where an order's sales channel is read from, first found wins: the shop's own `channel`, then
# what the platforms pass on (Shopify's `source_name`, WooCommerce's `created_via`).
CHANNEL_ATTRIBUTES = ("channel", "source_name", "created_via")
MAX_CHANNEL = 64
# A cart's lines kept in `last_cart` for its reminder (name, price, image, link).
MAX_CART_LINES = 10
MAX_LINK = 1024


class Merge(enum.Enum):
    SUM = "sum"  # numbers that add up: orders_count, views_count
    MIN = "min"  # first times: first_order_at
    MAX = "max"  # last times: last_order_at
    LWW = "lww"  # {"v", "at", "id"}: the value of the latest event wins
    UNION = "union"  # sets of strings
    MAP_SUM = "map_sum"  # {key: number}: per-key sum
    MAP_LWW = "map_lww"  # {key: {"v", "at", "id"}}: per-key last write wins
    FIRST = "first"  # {"v", "at", "id"}: the value of the earliest event wins (first order's code)
    KEEP = "keep"  # identity and bookkeeping, not merged


def merge_kind(field: str) -> Merge:
    for meta in Profile.model_fields[field].metadata:
        if isinstance(meta, Merge):
            return meta
    raise LookupError(field)


Lww = dict[str, Any]  # {"v": value, "at": iso time, "id": event id}


def lww(value: Any, at: datetime | str, event_id: str) -> Lww:
    return {"v": value, "at": at if isinstance(at, str) else isoformat(at), "id": event_id}


def _lww_key(item: Lww) -> tuple[str, str]:
    return (item["at"], item["id"])


class Profile(BaseModel):
    """One contact, as stored (minus keys). Times are ISO strings in UTC (`clock.isoformat`)."""

    model_config = ConfigDict(extra="ignore")

    shop_id: Annotated[str, Merge.KEEP]
    contact_id: Annotated[str, Merge.KEEP]
    customer_id: Annotated[str | None, Merge.KEEP] = None

    email: Annotated[Lww | None, Merge.LWW] = None
    consent: Annotated[Lww | None, Merge.LWW] = None  # accepts_marketing
    fields: Annotated[dict[str, Lww], Merge.MAP_LWW] = Field(default_factory=dict)
    topics: Annotated[dict[str, Lww], Merge.MAP_LWW] = Field(default_factory=dict)  # opted out of a topic
    unsubscribed: Annotated[Lww | None, Merge.LWW] = None
    suppressed: Annotated[Lww | None, Merge.LWW] = None  # {"v": "bounce"|"complaint"|None}

    events_count: Annotated[int, Merge.SUM] = 0
    orders_count: Annotated[int, Merge.SUM] = 0
    refunds_count: Annotated[int, Merge.SUM] = 0
    # What the shop reports of the customer's attention, counted like orders (the engagement score
    # reads these counters: comeback.recipes.engagement): product views, site visits, replies to emails.
    views_count: Annotated[int, Merge.SUM] = 0
    visits_count: Annotated[int, Merge.SUM] = 0
    replies_count: Annotated[int, Merge.SUM] = 0
    spent: Annotated[dict[str, int], Merge.MAP_SUM] = Field(default_factory=dict)  # currency -> minor units
    interests: Annotated[dict[str, int], Merge.MAP_SUM] = Field(default_factory=dict)  # category -> count
    products: Annotated[set[str], Merge.UNION] = Field(default_factory=set)  # bought product ids
    # product views per day: "YYYY-MM-DD|p|<product id>" and "YYYY-MM-DD|c|<category>" -> views
    # (comeback.domain.interest reads them: views in a window, interest with decay)
    browsed: Annotated[dict[str, int], Merge.MAP_SUM] = Field(default_factory=dict)
    # Order history by UTC month, for the shop's retention measures and cohorts (comeback.domain.insight):
    # "YYYY-MM" -> orders placed, and "YYYY-MM|CUR" -> minor units spent; a refund subtracts in the
    # month it happened, as `spent` does. Bounded by MAX_MONTHS (the oldest months go first).
    order_months: Annotated[dict[str, int], Merge.MAP_SUM] = Field(default_factory=dict)
    spent_months: Annotated[dict[str, int], Merge.MAP_SUM] = Field(default_factory=dict)
    # The first order's discount code and sales channel ({"code", "channel"}, each None when the
    # order had none): set by every order, the earliest one wins whatever the arrival order.
    first_order: Annotated[Lww | None, Merge.FIRST] = None

    first_seen_at: Annotated[str | None, Merge.MIN] = None
    last_seen_at: Annotated[str | None, Merge.MAX] = None  # newest event of any kind: the watermark
    first_order_at: Annotated[str | None, Merge.MIN] = None
    last_order_at: Annotated[str | None, Merge.MAX] = None
    last_activity_at: Annotated[str | None, Merge.MAX] = None
    last_viewed: Annotated[Lww | None, Merge.LWW] = None  # {"product_id", "name", "category", "url"}
    last_cart: Annotated[Lww | None, Merge.LWW] = None
    # Each recipe's state, recipe name -> {"v": its state, "at": when it decided, "id": ...}: a recipe
    # writes only its own entry (comeback.recipes), so two recipes never undo each other.
    recipes: Annotated[dict[str, Lww], Merge.MAP_LWW] = Field(default_factory=dict)
    # Each enabled recipe's next due time (ISO): derived from the rest, recomputed by the engine on
    # every write, and kept so the one-write fast path can move one recipe's due time alone.
    dues: Annotated[dict[str, str], Merge.KEEP] = Field(default_factory=dict)
    # Email engagement, from SES events (opens are noisy since Apple's privacy proxy; clicks are not).
    email_opens: Annotated[int, Merge.SUM] = 0
    email_clicks: Annotated[int, Merge.SUM] = 0
    soft_bounces: Annotated[int, Merge.SUM] = 0
    last_engaged_at: Annotated[str | None, Merge.MAX] = None
    last_click: Annotated[Lww | None, Merge.LWW] = None  # {"campaign", "step", "period", "link"}
    # Recent emails, for frequency caps: message key -> {"v": campaign, "at": claimed at, "id": key}.
    # Written by the sender when it claims a message, together with `sends_seq`, the counter its
    # next claim is conditioned on, so two senders cannot both take the last free slot.
    sends: Annotated[dict[str, Lww], Merge.MAP_LWW] = Field(default_factory=dict)
    sends_seq: Annotated[int | None, Merge.MAX] = None
    erased_at: Annotated[str | None, Merge.MAX] = None
    merged_into: Annotated[str | None, Merge.KEEP] = None

    # -- derived views -----------------------------------------------------------------------
    @property
    def email_address(self) -> str | None:
        return self.email["v"] if self.email else None

    def field(self, name: str) -> Any:
        item = self.fields.get(name)
        return item["v"] if item else None

    @property
    def currency(self) -> str | None:
        """The currency the customer spends most in (shops almost always have one)."""
        return main_currency(self.spent)

    @property
    def total_spent_minor(self) -> int:
        return spent_in_main_currency(self.spent)

    @property
    def average_order_value_minor(self) -> int:
        return self.total_spent_minor // self.orders_count if self.orders_count else 0

    @property
    def accepts_marketing(self) -> bool | None:
        return self.consent["v"] if self.consent else None

    @property
    def is_unsubscribed(self) -> bool:
        return bool(self.unsubscribed and self.unsubscribed["v"])

    @property
    def suppression(self) -> str | None:
        return self.suppressed["v"] if self.suppressed else None

    def topic_allowed(self, topic: str) -> bool:
        item = self.topics.get(topic)
        return not (item and item["v"] is False)


def merge(a: Profile, b: Profile) -> Profile:
    """Combine two partial profiles of the same contact; order does not matter."""
    values: dict[str, Any] = {}
    for name in Profile.model_fields:
        kind = merge_kind(name)
        x, y = getattr(a, name), getattr(b, name)
        values[name] = _merge_values(kind, x, y)
    return Profile.model_validate(_bounded(values))


def _bounded(values: dict[str, Any]) -> dict[str, Any]:
    """Cut what grows with what a shop sends to the bounds at the top of this module."""
    fields: dict[str, Lww] = values["fields"]
    if len(fields) > MAX_FIELDS:
        known = {k: v for k, v in fields.items() if not k.startswith(ATTRIBUTE_PREFIX)}
        unknown = sorted(
            ((k, v) for k, v in fields.items() if k.startswith(ATTRIBUTE_PREFIX)),
            key=lambda kv: (*_lww_key(kv[1]), kv[0]),
            reverse=True,
        )
        values["fields"] = known | dict(unknown[: MAX_FIELDS - len(known)])
    if len(values["products"]) > MAX_PRODUCTS:
        values["products"] = set(sorted(values["products"])[:MAX_PRODUCTS])
    interests: dict[str, int] = values["interests"]
    if len(interests) > MAX_INTERESTS:
        strongest = sorted(interests.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_INTERESTS]
        values["interests"] = dict(strongest)
    browsed: dict[str, int] = values.get("browsed", {})
    if len(browsed) > MAX_BROWSED:
        newest = sorted(browsed.items(), key=lambda kv: (kv[0][:10], kv[1], kv[0]), reverse=True)
        values["browsed"] = dict(newest[: MAX_BROWSED // 2])
    for name in ("order_months", "spent_months"):
        months: dict[str, int] = values.get(name, {})
        if len(months) > MAX_MONTHS:
            values[name] = {k: months[k] for k in sorted(months, reverse=True)[:MAX_MONTHS]}
    return values


def growth_limits(change: Profile) -> dict[str, int]:
    """For the store's fast path: field -> the most entries the stored profile may already hold
    for `change` to be added without passing a bound (one more and the slow path must cut)."""
    limits: dict[str, int] = {}
    bounds = (
        ("fields", MAX_FIELDS),
        ("products", MAX_PRODUCTS),
        ("interests", MAX_INTERESTS),
        ("browsed", MAX_BROWSED),
        ("order_months", MAX_MONTHS),
        ("spent_months", MAX_MONTHS),
    )
    for name, bound in bounds:
        grows = len(getattr(change, name))
        if grows:
            limits[name] = bound - grows
    return limits


def _merge_values(kind: Merge, x: Any, y: Any) -> Any:
    if kind is Merge.KEEP:
        return x if x is not None else y
    if kind is Merge.SUM:
        return x + y
    if kind is Merge.MIN:
        return min(v for v in (x, y) if v is not None) if (x or y) else None
    if kind is Merge.MAX:
        return max(v for v in (x, y) if v is not None) if (x or y) else None
    if kind is Merge.LWW:
        if x is None or y is None:
            return x if y is None else y
        return x if _lww_key(x) >= _lww_key(y) else y
    if kind is Merge.FIRST:
        if x is None or y is None:
            return x if y is None else y
        return x if _lww_key(x) <= _lww_key(y) else y
    if kind is Merge.UNION:
        return x | y
    if kind is Merge.MAP_SUM:
        return {k: x.get(k, 0) + y.get(k, 0) for k in x.keys() | y.keys()}
    if kind is Merge.MAP_LWW:
        return {k: _merge_values(Merge.LWW, x.get(k), y.get(k)) for k in x.keys() | y.keys()}
    raise AssertionError(kind)


def empty(shop_id: str, contact_id: str, customer_id: str | None = None) -> Profile:
    return Profile(shop_id=shop_id, contact_id=contact_id, customer_id=customer_id)


# Fields of customer.updated that become profile fields (LWW each); email and consent have their own.
PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "locale",
    "timezone",
    "birthday",
    "signed_up_at",
    "loyalty_member",
    "tags",
    "address",
    "feedback_reason",  # the latest reason a feedback.submitted gave (price, experience ...)
)
ATTRIBUTE_PREFIX = "attr."
# The events a profile counts (type -> its Merge.SUM counter).
COUNTED = {
    "order.placed": "orders_count",
    "order.refunded": "refunds_count",
    "product.viewed": "views_count",
    "site.visited": "visits_count",
    "message.replied": "replies_count",
}
MAX_FIELDS = len(PROFILE_FIELDS) + MAX_ATTRIBUTES_KEPT


def delta(event: EventBase, shop_id: str, contact_id: str) -> Profile:
    """The profile of this one event alone."""
    at = isoformat(event.occurred_at)
    eid = event.id
    p = empty(shop_id, contact_id, event.customer.id)
    p.events_count = 1
    p.first_seen_at = p.last_seen_at = at
    if event.customer.email:
        p.email = lww(event.customer.email, at, eid)
    if event.is_activity:
        p.last_activity_at = at
    counter = COUNTED.get(getattr(event, "type", ""))
    if counter:
        setattr(p, counter, 1)

    if isinstance(event, CustomerUpdated):
        data = event.data
        if data.email:
            p.email = lww(data.email, at, eid)
        if data.accepts_marketing is not None:
            p.consent = lww(data.accepts_marketing, at, eid)
        dumped = data.model_dump(mode="json", include=set(PROFILE_FIELDS), exclude_none=True)
        p.fields = {name: lww(value, at, eid) for name, value in dumped.items()}
        for name, value in data.attributes.items():
            if _serialised_size(value) <= MAX_ATTRIBUTE_VALUE_BYTES:
                p.fields[f"{ATTRIBUTE_PREFIX}{name}"] = lww(value, at, eid)
    elif isinstance(event, OrderPlaced):
        _add_order(p, event.data, at, eid)
    elif isinstance(event, OrderRefunded):
        refund = event.data
        p.spent = {refund.currency: -refund.amount_minor}
        p.spent_months = {f"{at[:7]}|{refund.currency}": -refund.amount_minor}
    elif isinstance(event, ProductViewed):
        product = event.data
        if product.category:
            p.interests = {product.category[:MAX_INTEREST_KEY]: 1}
        p.browsed = browsed_keys(at, product.product_id, product.category)
        shown = {"product_id", "name", "category", "url", "image_url", "price", "currency"}
        p.last_viewed = lww(product.model_dump(mode="json", include=shown, exclude_none=True), at, eid)
    elif isinstance(event, CartUpdated | CheckoutStarted):
        p.last_cart = lww(_cart_summary(event), at, eid)
    elif isinstance(event, FeedbackSubmitted):
        reason = getattr(event.data, "reason", None)
        if reason:
            p.fields = {"feedback_reason": lww(reason, at, eid)}
    elif isinstance(event, CustomerDeleted):
        p.erased_at = at
    # one event alone stays inside the bounds too, so the fast path never adds more than one cut allows
    cut = _bounded({"fields": p.fields, "products": p.products, "interests": p.interests})
    p.fields, p.products, p.interests = cut["fields"], cut["products"], cut["interests"]
    return p


def _add_order(p: Profile, order: OrderData, at: str, eid: str) -> None:
    p.spent = {order.currency: order.total_minor}
    p.first_order_at = p.last_order_at = at
    p.products = {item.product_id for item in order.items}
    p.interests = _category_counts(order.items)
    p.order_months = {at[:7]: 1}
    p.spent_months = {f"{at[:7]}|{order.currency}": order.total_minor}
    p.first_order = lww(order_origin(order), at, eid)


def order_origin(order: OrderData) -> dict[str, str | None]:
    """What an order says of where the customer came from: its first discount code and its channel."""
    code = order.discount_codes[0].upper() if order.discount_codes else None
    channel = next(
        (v for k in CHANNEL_ATTRIBUTES if isinstance(v := order.attributes.get(k), str) and v.strip()), None
    )
    return {"code": code, "channel": channel.strip().lower()[:MAX_CHANNEL] if channel else None}


def browsed_keys(at: str, product_id: str, category: str | None) -> dict[str, int]:
    """One view's counters in `Profile.browsed`: its product's and its category's, on its UTC day."""
    day = at[:10]
    keys = {f"{day}|p|{product_id}": 1}
    if category:
        keys[f"{day}|c|{category[:MAX_INTEREST_KEY]}"] = 1
    return keys


def _cart_summary(event: CartUpdated | CheckoutStarted) -> dict[str, Any]:
    cart = event.data
    summary = {
        "type": event.type,
        "products": [item.product_id for item in cart.items][:20],
        "items": sum(item.quantity for item in cart.items),
        "total": str(cart.total) if cart.total is not None else None,
        "currency": cart.currency,
        "url": cart.url,
        "lines": [_cart_line(item) for item in cart.items[:MAX_CART_LINES]],
    }
    return {k: v for k, v in summary.items() if v is not None}


def _cart_line(item: Any) -> dict[str, Any]:
    """What a cart reminder shows of a line: name, price, quantity, and the shop's image and link
    (platforms send `image_url` and `url` on a line; they land in its attributes)."""
    line: dict[str, Any] = {
        "product_id": item.product_id,
        "price": str(item.price),
        "quantity": item.quantity,
    }
    if item.name:
        line["name"] = item.name[:200]
    for key in ("image_url", "url"):
        link = item.attributes.get(key)
        if isinstance(link, str) and link.startswith(("https://", "http://")) and len(link) <= MAX_LINK:
            line[key] = link
    return line


def _category_counts(items: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        if item.category:
            key = item.category[:MAX_INTEREST_KEY]
            counts[key] = counts.get(key, 0) + item.quantity
    return counts


def _serialised_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())


def main_currency(spent: dict[str, int]) -> str | None:
    return max(spent, key=lambda c: (spent[c], c)) if spent else None


def spent_in_main_currency(spent: dict[str, int]) -> int:
    # refunds are summed as negatives so the sum stays order-independent; a refund of an order
    # we never saw (placed before the shop connected) would take the view below zero
    currency = main_currency(spent)
    return max(0, spent.get(currency, 0)) if currency else 0


def apply(profile: Profile, event: EventBase) -> Profile:
    return merge(profile, delta(event, profile.shop_id, profile.contact_id))


def email_contact_id(email: str) -> str:
    """Contacts known only by email get a stable id from it (a hash: no address in keys or logs)."""
    return "~" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def is_set_field(name: str) -> bool:
    annotation = Profile.model_fields[name].annotation
    return get_origin(annotation) is set or (annotation is not None and set in get_args(annotation))
