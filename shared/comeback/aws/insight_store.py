"""A shop's customer records for the insight reports, read through the buyers index.

The index projects what the reports read (`keys.BUYER_ATTRIBUTES`), so a shop's report is a Query
per shard of the index, never a read of the table; profiles that never ordered, and those erased
or merged into another contact, are passed over (they are on the index too).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from comeback.aws import dynamo, keys
from comeback.domain.insight.records import CustomerRecord, record


class DynamoInsightStore:
    def __init__(self, ddb: Any, table: str, shards: int) -> None:
        self._ddb = ddb
        self._table = table
        self._shards = shards
        self.items_read = 0  # buyers index items read

    def customers(self, shop_id: str) -> Iterator[CustomerRecord]:
        """Every buyer of the shop, shard by shard (the order is the index's, not meaningful)."""
        prefix = keys.contact(shop_id, "")
        for shard in keys.all_buyer_shards(shop_id, self._shards):
            for page in self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=keys.BUYER_INDEX,
                KeyConditionExpression="#b = :shard",
                ExpressionAttributeNames={"#b": keys.BUYER_PK},
                ExpressionAttributeValues={":shard": {"S": shard}},
            ):
                for item in page.get("Items", []):
                    self.items_read += 1
                    found = _record(dynamo.plain(item), prefix)
                    if found is not None:
                        yield found


def _record(plain: dict[str, Any], prefix: str) -> CustomerRecord | None:
    if plain.get("erased_at") or plain.get("merged_into"):
        return None
    return record(
        contact_id=str(plain[keys.PK]).removeprefix(prefix),
        orders=int(plain.get("orders_count") or 0),
        spent=_counts(plain.get("spent")),
        first_order_at=plain.get("first_order_at"),
        last_order_at=plain.get("last_order_at"),
        order_months=_counts(plain.get("order_months")),
        spent_months=_counts(plain.get("spent_months")),
        first_order=plain.get("first_order"),
    )


def _counts(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}
