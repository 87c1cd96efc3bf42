"""What a shop's own events teach about its products: a small catalogue and what is bought together.

Each product the shop's orders or product views name gets one entry (`ProductInfo`): what the
events carried of it (name, category, price, link, image) and, from orders, how many orders it
was in and how often each other product was in the same order (`partners`, the co-occurrence
counts). Recommendation recipes (cross-sell) read it when they are due; nothing in it is personal.

Counting is incremental: an order adds 1 to `orders` of each of its products and 1 to each pair
it holds (`pairs`). What one order counts and what one entry keeps are bounded:
`MAX_COUNTED` distinct products per order (a 500-line wholesale order teaches little and would
cost 500 writes), `MAX_PARTNERS` partners per product (an entry is one DynamoDB item, at most
400 KB; past the bound the weakest partners are dropped, down to `KEPT_AFTER_PRUNE`, so the
strong pairs stay and a new one can still grow).

The store behind `ProductStore` (`comeback.aws.product_store`, a fake in tests) is the shop's;
the service that feeds it is `comeback.app.products`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from comeback.domain.events import LineItem, OrderData, ProductData
from comeback.domain.money import MoneyError, to_minor

MAX_COUNTED = 10
MAX_PARTNERS = 100
KEPT_AFTER_PRUNE = 75
MAX_URL = 2048


@dataclass(frozen=True)
class ProductInfo:
    """One product of a shop, as its events described it (None: never told)."""

    product_id: str
    name: str | None = None
    category: str | None = None
    price_minor: int | None = None
    currency: str | None = None
    url: str | None = None
    image_url: str | None = None
    orders: int = 0
    partners: Mapping[str, int] = field(default_factory=dict)

    def block(self) -> dict[str, Any]:
        """What a template shows of it (`products` in a recommendation email)."""
        found = {
            "product_id": self.product_id,
            "name": self.name,
            "category": self.category,
            "price": self.price_minor,
            "currency": self.currency,
            "url": self.url,
            "image_url": self.image_url,
        }
        return {k: v for k, v in found.items() if v is not None}


class ProductReader(Protocol):
    def products(self, shop_id: str, product_ids: Sequence[str]) -> dict[str, ProductInfo]:
        """The entries known of these products (unknown ones are left out)."""
        ...


class ProductStore(ProductReader, Protocol):
    def record_order(self, shop_id: str, order: OrderData) -> None:
        """Count an order: its products' catalogue data, orders and pairs (not idempotent: the
        caller counts an event once, after its contact write succeeded)."""
        ...

    def record_view(self, shop_id: str, product: ProductData) -> None:
        """Keep what a product view says of the product (idempotent)."""
        ...


class NoProducts:
    """A reader that knows nothing (a sweep built without the product store)."""

    def products(self, shop_id: str, product_ids: Sequence[str]) -> dict[str, ProductInfo]:
        return {}


class Remembered:
    """A reader that asks its store once per product: the sweep keeps one per page of due
    contacts, so customers of the same products cost one read between them."""

    def __init__(self, reader: ProductReader) -> None:
        self._reader = reader
        self._known: dict[tuple[str, str], ProductInfo | None] = {}

    def products(self, shop_id: str, product_ids: Sequence[str]) -> dict[str, ProductInfo]:
        missing = [p for p in dict.fromkeys(product_ids) if (shop_id, p) not in self._known]
        if missing:
            found = self._reader.products(shop_id, missing)
            for pid in missing:
                self._known[(shop_id, pid)] = found.get(pid)
        return {p: info for p in product_ids if (info := self._known[(shop_id, p)]) is not None}


# -- what an event says of products ------------------------------------------------------------


def counted(order: OrderData) -> list[str]:
    """The order's distinct products, in the order's order, at most `MAX_COUNTED`."""
    seen: list[str] = []
    for item in order.items:
        if item.product_id not in seen:
            seen.append(item.product_id)
            if len(seen) == MAX_COUNTED:
                break
    return seen


def pairs(order: OrderData) -> dict[str, list[str]]:
    """product -> the other products of the same order: what one order adds to the counts."""
    ids = counted(order)
    return {pid: [other for other in ids if other != pid] for pid in ids}


def _link(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= MAX_URL:
        return value
    return None


def from_item(item: LineItem, currency: str) -> ProductInfo:
    """An order line's product: name, category and unit price; a link and an image if the shop sent
    them with the line (`url`, `image_url`: not in the canonical line, so kept in its attributes)."""
    return ProductInfo(
        product_id=item.product_id,
        name=item.name,
        category=item.category,
        price_minor=to_minor(item.price, currency),  # checked against the currency at parse time
        currency=currency,
        url=_link(item.attributes.get("url")),
        image_url=_link(item.attributes.get("image_url")),
    )


def from_order(order: OrderData) -> dict[str, ProductInfo]:
    """The catalogue data of the counted products of an order (the first line of each)."""
    wanted = set(counted(order))
    found: dict[str, ProductInfo] = {}
    for item in order.items:
        if item.product_id in wanted and item.product_id not in found:
            found[item.product_id] = from_item(item, order.currency)
    return found


def from_view(product: ProductData) -> ProductInfo:
    price = None
    if product.price is not None and product.currency:
        try:
            price = to_minor(product.price, product.currency)
        except MoneyError:  # more decimals than the currency has: no price rather than a wrong one
            price = None
    return ProductInfo(
        product_id=product.product_id,
        name=product.name,
        category=product.category,
        price_minor=price,
        currency=product.currency if price is not None else None,
        url=product.url,
        image_url=product.image_url,
    )


def catalogue_fields(info: ProductInfo) -> dict[str, Any]:
    """The catalogue attributes an event sets (those it carries; the others stay as stored)."""
    found = {
        "name": info.name,
        "category": info.category,
        "price_minor": info.price_minor,
        "currency": info.currency,
        "url": info.url,
        "image_url": info.image_url,
    }
    return {k: v for k, v in found.items() if v is not None}


# -- bounds and suggestions ----------------------------------------------------------------------


def bounded(partners: Mapping[str, int]) -> dict[str, int]:
    """The partners an entry keeps: all of them up to `MAX_PARTNERS`, else the strongest
    `KEPT_AFTER_PRUNE` (ties by id, so the cut is the same whoever makes it)."""
    if len(partners) <= MAX_PARTNERS:
        return dict(partners)
    strongest = sorted(partners.items(), key=lambda kv: (-kv[1], kv[0]))[:KEPT_AFTER_PRUNE]
    return dict(strongest)


def added(partners: Mapping[str, int], new: Iterable[str]) -> dict[str, int]:
    """Partner counts with one more order of each of `new`, cut to the bound."""
    counts = dict(partners)
    for other in new:
        counts[other] = counts.get(other, 0) + 1
    return bounded(counts)


def bought_together(
    entries: Mapping[str, ProductInfo],
    basis: Sequence[str],
    exclude: Iterable[str],
    min_support: int,
) -> list[str]:
    """Products often bought with the `basis` products, strongest first: a pair counts only with at
    least `min_support` orders; a candidate's score is the sum of its counted pairs. Never one of
    `basis` nor of `exclude` (what the customer bought)."""
    skip = set(exclude) | set(basis)
    scores: dict[str, int] = {}
    for pid in basis:
        entry = entries.get(pid)
        if entry is None:
            continue
        for other, n in entry.partners.items():
            if n >= min_support and other not in skip:
                scores[other] = scores.get(other, 0) + n
    return [pid for pid, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
