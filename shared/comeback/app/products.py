"""Feeding the shop's product knowledge (`comeback.domain.products`) from the contacts function.

Where the counting runs: in the contacts function, once the event's contact write succeeded (the
store answered applied, not duplicate), so an event id counts once however often it is
delivered; a crash between the two writes loses one order's counts (a statistic, not a ledger:
nothing is sent twice because of it). Only shops with a recipe on that reads products
(`Recipe.reads_products`: cross-sell, upsell) pay for it.

- an order: one update per counted product (`ProductStore.record_order`);
- a product view that names the product (a name, a link or an image): one update of its
  catalogue data, unless this container wrote the same data for the same product within
  `VIEW_REWRITE` (views are the most frequent event; the catalogue changes rarely).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from comeback.domain.clock import Clock
from comeback.domain.events import OrderPlaced, ProductViewed, ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.products import ProductStore, catalogue_fields, from_view
from comeback.recipes import registry

VIEW_REWRITE = timedelta(hours=6)
REMEMBERED = 5000  # (shop, product) pairs whose last view write a container remembers


def wanted(playbook: Playbook) -> bool:
    return any(recipe.reads_products for recipe in registry.enabled(playbook))


class ProductKnowledge:
    def __init__(self, store: ProductStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._written: OrderedDict[tuple[str, str], tuple[tuple[tuple[str, object], ...], datetime]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()  # the local runtime's pollers share one service

    def observe(self, shop_id: str, event: ShopEvent, playbook: Playbook) -> None:
        """Learn from an event just applied to its contact (once per event id)."""
        if not wanted(playbook):
            return
        if isinstance(event, OrderPlaced) and event.data.items:
            self._store.record_order(shop_id, event.data)
        elif isinstance(event, ProductViewed):
            self._view(shop_id, event)

    def _view(self, shop_id: str, event: ProductViewed) -> None:
        fields = catalogue_fields(from_view(event.data))
        if not ({"name", "url", "image_url"} & fields.keys()):
            return  # nothing worth showing in an email
        key = (shop_id, event.data.product_id)
        facts = tuple(sorted(fields.items()))
        now = self._clock.now()
        with self._lock:
            last = self._written.get(key)
        if last is not None and last[0] == facts and timedelta(0) <= now - last[1] < VIEW_REWRITE:
            return
        self._store.record_view(shop_id, event.data)
        with self._lock:
            self._written[key] = (facts, now)
            self._written.move_to_end(key)
            while len(self._written) > REMEMBERED:
                self._written.popitem(last=False)
