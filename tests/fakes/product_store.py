"""An in-memory `ProductStore`, for unit tests (no moto, no sockets).

The same rules as the DynamoDB adapter (`comeback.aws.product_store`) under one lock: catalogue
data set from what each event carries, `orders` and partner counts added per order, partners cut
to the bound with `products.added`. tests/integration/test_product_store.py runs one contract
against both, so the fake cannot drift from the adapter unnoticed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from comeback.domain.events import OrderData, ProductData
from comeback.domain.products import ProductInfo, added, catalogue_fields, from_order, from_view, pairs


class InMemoryProductStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.entries: dict[tuple[str, str], ProductInfo] = {}
        self.writes = 0  # update requests the adapter would make

    def _described(self, shop_id: str, info: ProductInfo) -> ProductInfo:
        entry = self.entries.get((shop_id, info.product_id), ProductInfo(info.product_id))
        return replace(entry, **catalogue_fields(info))

    def record_order(self, shop_id: str, order: OrderData) -> None:
        infos = from_order(order)
        with self._lock:
            for pid, others in pairs(order).items():
                entry = self._described(shop_id, infos[pid])
                self.entries[(shop_id, pid)] = replace(
                    entry, orders=entry.orders + 1, partners=added(entry.partners, others)
                )
                self.writes += 1

    def record_view(self, shop_id: str, product: ProductData) -> None:
        with self._lock:
            self.entries[(shop_id, product.product_id)] = self._described(shop_id, from_view(product))
            self.writes += 1

    def products(self, shop_id: str, product_ids: Sequence[str]) -> dict[str, ProductInfo]:
        with self._lock:
            return {
                pid: self.entries[(shop_id, pid)] for pid in product_ids if (shop_id, pid) in self.entries
            }
