"""The contacts function's service: one shop event applied to its contact, and what recipes make of it.

The store applies the event (one write in the usual case); when it had to read the profile, the
recipes say what the event means to them (a stage change, a code redeemed, a message to send at
once), and that is carried out before the write that records it (`app.effects`). Then what the
event teaches about the shop's products is kept (`app.products`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from comeback.app.effects import carry_out
from comeback.app.observability import count, logger
from comeback.app.products import ProductKnowledge
from comeback.aws.bus import Publisher
from comeback.aws.contact_store import Applied, ContactStore, Outcome
from comeback.aws.outbox import Outbox
from comeback.domain.clock import Clock
from comeback.domain.events import ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.stores import RewardLedger
from comeback.recipes import engine

if TYPE_CHECKING:
    from comeback.app.tasks import TaskDesk


class ContactEvents:
    def __init__(
        self,
        store: ContactStore,
        playbooks: Callable[[str], Playbook],
        rewards: RewardLedger,
        publisher: Publisher,
        outbox: Outbox | None,
        clock: Clock,
        products: ProductKnowledge | None = None,
        tasks: TaskDesk | None = None,
    ) -> None:
        self._store = store
        self._tasks = tasks
        self._playbooks = playbooks
        self._rewards = rewards
        self._publisher = publisher
        self._outbox = outbox
        self._clock = clock
        self._products = products

    def apply(self, shop_id: str, event: ShopEvent) -> Applied:
        playbook = self._playbooks(shop_id)
        now = self._clock.now()

        def decided(outcome: engine.Outcome) -> None:
            done = carry_out(outcome, playbook, now, self._rewards, self._tasks)
            if done.messages:
                if self._outbox is None:
                    raise RuntimeError("a recipe asked for a message and the contacts function has no outbox")
                self._outbox.send(done.messages)
            if done.entries:
                self._publisher.publish(done.entries)

        applied = self._store.apply(shop_id, event, playbook, now=now, decided=decided)
        if self._products is not None and applied.outcome in (Outcome.APPLIED, Outcome.APPLIED_SLOW):
            # after the contact's write: a redelivered event id is a duplicate and counts nothing, so a
            # failure here is not retried either; it is counted and logged, the event stays applied
            try:
                self._products.observe(shop_id, event, playbook)
            except Exception:  # a statistic lost, never the contact's update
                count("ProductCountsLost")
                logger.exception("product knowledge not updated", extra={"shop_id": shop_id})
        return applied
