"""`ProductStore` on the DynamoDB table: one item per product of a shop, `SHOP#{shop}#PRODUCT#{id}`.

An item holds the catalogue data the shop's events carried (name, category, price_minor,
currency, url, image_url, seen in `updated_at`), `orders` (how many orders it was in) and
`partners` (a map: other product -> orders holding both). An order costs one `UpdateItem` per
counted product (`comeback.domain.products.counted`, at most 10), with no read:

    SET partners.#p = if_not_exists(partners.#p, :0) + :1, ... , name = :name ...
    ADD orders :1, pv :1
    condition: partners exists, and it has room for the new partners or holds them all already

When the condition fails (the product's first order with others, or its partners at the bound),
the item is read and its partners merged and cut in Python (`products.added`), then written on
condition that `pv` (a counter every partner update adds to) did not move; a concurrent writer
makes it start again. A view, or an order of one product, sets the catalogue data and creates an
empty `partners` map, so the read is rare: a product whose first appearance is in a basket of
several, and a best-seller once per `MAX_PARTNERS - KEPT_AFTER_PRUNE` new partners.

Reading is a `BatchGetItem` of up to 100 products (unprocessed keys retried).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from comeback.aws import dynamo, keys
from comeback.domain.clock import Clock, isoformat
from comeback.domain.events import OrderData, ProductData
from comeback.domain.products import (
    MAX_PARTNERS,
    ProductInfo,
    added,
    catalogue_fields,
    from_order,
    from_view,
    pairs,
)

MAX_ATTEMPTS = 5
BATCH_GET = 100


class ProductStoreConflict(Exception):
    """A product's partners kept changing under a merge; the event's delivery is retried."""


class DynamoProductStore:
    def __init__(self, ddb: Any, table: str, clock: Clock) -> None:
        self._ddb = ddb
        self._table = table
        self._clock = clock

    # -- writing -----------------------------------------------------------------------------
    def record_order(self, shop_id: str, order: OrderData) -> None:
        infos = from_order(order)
        for pid, others in pairs(order).items():
            self._count(shop_id, infos[pid], others)

    def record_view(self, shop_id: str, product: ProductData) -> None:
        info = from_view(product)
        update = _Update(self._clock.now())
        update.catalogue(info)
        update.sets.append(f"{update.name('partners')} = if_not_exists({update.name('partners')}, :empty)")
        update.values[":empty"] = {"M": {}}
        self._ddb.update_item(**update.request(self._table, shop_id, info.product_id))

    def _count(self, shop_id: str, info: ProductInfo, others: Sequence[str]) -> None:
        update = _Update(self._clock.now())
        update.catalogue(info)
        update.adds.append(f"{update.name('orders')} {update.value(1)}")
        partners = update.name("partners")
        if not others:
            update.sets.append(f"{partners} = if_not_exists({partners}, :empty)")
            update.values[":empty"] = {"M": {}}
            self._ddb.update_item(**update.request(self._table, shop_id, info.product_id))
            return
        for _ in range(MAX_ATTEMPTS):
            if self._try_increment(shop_id, info, others):
                return
            if self._merge(shop_id, info, others):
                return
        raise ProductStoreConflict(f"product {info.product_id} kept changing while counting an order")

    def _try_increment(self, shop_id: str, info: ProductInfo, others: Sequence[str]) -> bool:
        update = _Update(self._clock.now())
        update.catalogue(info)
        partners = update.name("partners")
        zero, one = update.value(0), update.value(1)
        held: list[str] = []
        for other in others:
            entry = f"{partners}.{update.name(other)}"
            update.sets.append(f"{entry} = if_not_exists({entry}, {zero}) + {one}")
            held.append(f"attribute_exists({entry})")
        update.adds.append(f"{update.name('orders')} {one}")
        update.adds.append(f"{update.name('pv')} {one}")
        room = update.value(MAX_PARTNERS - len(others))
        condition = f"attribute_exists({partners}) AND (size({partners}) <= {room} OR ({' AND '.join(held)}))"
        try:
            self._ddb.update_item(
                **update.request(self._table, shop_id, info.product_id), ConditionExpression=condition
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _merge(self, shop_id: str, info: ProductInfo, others: Sequence[str]) -> bool:
        """The partners merged and cut in Python, written on condition nobody counted meanwhile."""
        typed = self._ddb.get_item(
            TableName=self._table, Key=_key(shop_id, info.product_id), ConsistentRead=True
        ).get("Item")
        old = dynamo.plain(typed) if typed else {}
        partners = {str(k): int(v) for k, v in (old.get("partners") or {}).items()}
        update = _Update(self._clock.now())
        update.catalogue(info)
        update.sets.append(f"{update.name('partners')} = {update.value(added(partners, others))}")
        update.adds.append(f"{update.name('orders')} {update.value(1)}")
        update.adds.append(f"{update.name('pv')} {update.value(1)}")
        pv = update.name("pv")
        unmoved = f"{pv} = {update.value(old['pv'])}" if "pv" in old else f"attribute_not_exists({pv})"
        try:
            self._ddb.update_item(
                **update.request(self._table, shop_id, info.product_id), ConditionExpression=unmoved
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # -- reading -----------------------------------------------------------------------------
    def products(self, shop_id: str, product_ids: Sequence[str]) -> dict[str, ProductInfo]:
        wanted = list(dict.fromkeys(product_ids))
        found: dict[str, ProductInfo] = {}
        for start in range(0, len(wanted), BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {"Keys": [_key(shop_id, pid) for pid in wanted[start : start + BATCH_GET]]}
            }
            for _ in range(MAX_ATTEMPTS):
                answer = self._ddb.batch_get_item(RequestItems=pending)
                for typed in answer.get("Responses", {}).get(self._table, []):
                    info = _info(dynamo.plain(typed), shop_id)
                    found[info.product_id] = info
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return found


def _key(shop_id: str, product_id: str) -> dict[str, Any]:
    return dynamo.item({keys.PK: keys.product(shop_id, product_id), keys.SK: keys.PRODUCT})


def _info(item: Mapping[str, Any], shop_id: str) -> ProductInfo:
    def text(name: str) -> str | None:
        value = item.get(name)
        return str(value) if value is not None else None

    price = item.get("price_minor")
    return ProductInfo(
        product_id=str(item[keys.PK]).removeprefix(keys.product(shop_id, "")),
        name=text("name"),
        category=text("category"),
        price_minor=int(price) if price is not None else None,
        currency=text("currency"),
        url=text("url"),
        image_url=text("image_url"),
        orders=int(item.get("orders") or 0),
        partners={str(k): int(v) for k, v in (item.get("partners") or {}).items()},
    )


class _Update:
    """One UpdateItem's expression, names and values."""

    def __init__(self, now: datetime) -> None:
        self.sets: list[str] = []
        self.adds: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets.append(f"{self.name('updated_at')} = {self.value(isoformat(now))}")

    def name(self, attribute: str) -> str:
        for alias, known in self.names.items():
            if known == attribute:
                return alias
        alias = f"#n{len(self.names)}"
        self.names[alias] = attribute
        return alias

    def value(self, python: Any) -> str:
        alias = f":v{len(self.values)}"
        self.values[alias] = dynamo.value(python)
        return alias

    def catalogue(self, info: ProductInfo) -> None:
        for attribute, value in catalogue_fields(info).items():
            self.sets.append(f"{self.name(attribute)} = {self.value(value)}")

    def request(self, table: str, shop_id: str, product_id: str) -> dict[str, Any]:
        parts = ["SET " + ", ".join(self.sets)]
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return {
            "TableName": table,
            "Key": _key(shop_id, product_id),
            "UpdateExpression": " ".join(parts),
            "ExpressionAttributeNames": self.names,
            "ExpressionAttributeValues": self.values,
        }
