"""An in-memory `CampaignRecords`, for unit tests of the campaign report (no moto, no sockets).

It filters as the DynamoDB adapter does: one shop or all, the campaign's messages only, messages
requested and orders placed on or after `since`. tests/integration/test_report_store.py runs the
same data through both, so the fake cannot drift from the adapter unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from comeback.domain.campaign_report import MessageRecord, Order, Records


class InMemoryCampaignRecords:
    def __init__(self, messages: Iterable[MessageRecord] = (), orders: Iterable[Order] = ()) -> None:
        self.messages = list(messages)
        self.orders = list(orders)
        self.calls: list[tuple[str | None, str, date | None]] = []

    def records(self, shop_id: str | None, campaign: str, since: date | None) -> Records:
        self.calls.append((shop_id, campaign, since))
        return Records(
            messages=tuple(
                m
                for m in self.messages
                if m.campaign == campaign
                and (shop_id is None or m.shop_id == shop_id)
                and (since is None or m.requested_at.date() >= since)
            ),
            orders=tuple(
                o
                for o in self.orders
                if (shop_id is None or o.shop_id == shop_id)
                and (since is None or o.occurred_at.date() >= since)
            ),
        )
