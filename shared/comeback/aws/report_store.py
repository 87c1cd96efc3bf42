"""`CampaignRecords` on the DynamoDB table: a campaign's message records and the contacts' orders.

A report reads across every contact, so it is a Scan (paged), not the due index: an operator's
occasional read, never on a Lambda's hot path. The filter keeps only the contact partitions'
message records of the campaign and their `order.placed` events, and the projection only the
attributes the report reads, so what crosses the network is small even though the read units
are those of the whole table. Orders are read back from the event JSON kept with each event.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from comeback.aws import dynamo, keys
from comeback.domain.campaign_report import DEFAULT_VARIANT, MessageRecord, Order, Records
from comeback.domain.clock import parse_iso
from comeback.domain.money import MoneyError, to_minor

ORDER_PLACED = "order.placed"
_MESSAGE_FIELDS = (
    "shop_id",
    "contact_id",
    "campaign",
    "step",
    "period",
    "status",
    "reason",
    "requested_at",
    "sent_at",
    "variant",
    "timing",
    "delivered_at",
    "opened_at",
    "clicked_at",
)
_ORDER_FIELDS = ("type", "occurred_at", "event")
_CONTACT = "#C#"


class DynamoCampaignRecords:
    """Reads what `comeback.domain.campaign_report` needs with one paged, filtered Scan."""

    def __init__(self, ddb: Any, table: str, page_size: int | None = None) -> None:
        self._ddb = ddb
        self._table = table
        self._page_size = page_size
        # what the last `records` call read, for the operator and the tests: pages, items
        # evaluated by DynamoDB (ScannedCount) and items returned (Count)
        self.pages = 0
        self.scanned = 0
        self.returned = 0

    def _scan_arguments(
        self, shop_id: str | None, campaign: str | None, since: date | None
    ) -> dict[str, Any]:
        names = {f"#a{i}": name for i, name in enumerate(("pk", "sk", *_MESSAGE_FIELDS, *_ORDER_FIELDS))}
        alias = {name: placeholder for placeholder, name in names.items()}
        values: dict[str, Any] = {
            ":pk": {"S": keys.contact(shop_id, "") if shop_id else keys.shop("")},
            # every campaign's messages (None: the recipes report reads them all in one Scan)
            ":msg": {"S": keys.message(f"{campaign}#" if campaign else "")},
            ":evt": {"S": keys.event("")},
            ":order": {"S": ORDER_PLACED},
        }
        message = f"begins_with({alias['sk']}, :msg)"
        order = f"begins_with({alias['sk']}, :evt) AND {alias['type']} = :order"
        if since is not None:
            # ISO instants sort as text, and a day sorts before every instant of that day
            values[":since"] = {"S": since.isoformat()}
            message += f" AND {alias['requested_at']} >= :since"
            order += f" AND {alias['occurred_at']} >= :since"
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": f"begins_with({alias['pk']}, :pk) AND (({message}) OR ({order}))",
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if self._page_size:
            arguments["Limit"] = self._page_size
        return arguments

    def records(self, shop_id: str | None, campaign: str | None, since: date | None) -> Records:
        arguments = self._scan_arguments(shop_id, campaign, since)
        messages: list[MessageRecord] = []
        orders: list[Order] = []
        unreadable = 0
        self.pages = self.scanned = self.returned = 0
        start: dict[str, Any] | None = None
        while True:
            page = self._ddb.scan(**arguments, **({"ExclusiveStartKey": start} if start else {}))
            self.pages += 1
            self.scanned += int(page.get("ScannedCount", 0))
            self.returned += int(page.get("Count", 0))
            for typed in page.get("Items", []):
                item = dynamo.plain(typed)
                if _CONTACT not in item["pk"]:
                    continue
                if item["sk"].startswith(keys.message("")):
                    messages.append(message_record(item))
                else:
                    order = order_of(item)
                    if order is None:
                        unreadable += 1
                    else:
                        orders.append(order)
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return Records(tuple(messages), tuple(orders), unreadable)


def _instant(item: dict[str, Any], name: str) -> Any:
    text = item.get(name)
    return parse_iso(text) if text else None


def message_record(item: dict[str, Any]) -> MessageRecord:
    """A message record from its item (a missing variant is the default content, a missing timing
    None: an item written before timings were recorded, or at fixed timing)."""
    return MessageRecord(
        shop_id=str(item["shop_id"]),
        contact_id=str(item["contact_id"]),
        campaign=str(item["campaign"]),
        step=int(item["step"]),
        period=str(item["period"]),
        status=str(item["status"]),
        requested_at=parse_iso(item["requested_at"]),
        reason=item.get("reason"),
        variant=str(item.get("variant") or DEFAULT_VARIANT),
        timing=str(item["timing"]) if item.get("timing") else None,
        sent_at=_instant(item, "sent_at"),
        delivered_at=_instant(item, "delivered_at"),
        opened_at=_instant(item, "opened_at"),
        clicked_at=_instant(item, "clicked_at"),
    )


def order_of(item: dict[str, Any]) -> Order | None:
    """An `order.placed` event item as an order; None when its amount cannot be read (an event
    kept without its JSON, as for an erased contact, or one that no longer parses)."""
    shop_part, _, contact_id = item["pk"].removeprefix(keys.shop("")).partition(_CONTACT)
    try:
        data = json.loads(item["event"])["data"]
        currency = str(data["currency"]).upper()
        total = to_minor(str(data["total"]), currency)
    except (KeyError, TypeError, ValueError, MoneyError):
        return None
    return Order(shop_part, contact_id, parse_iso(item["occurred_at"]), total, currency)
