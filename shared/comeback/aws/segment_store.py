"""A shop's buyers, read through the buyers index; its RFM cut points and its fitted prediction
model, one item each of the shop (`SEGMENTS`, `PREDICTIONS`).

The index projects only what segmentation needs (see `keys`), so a page of 1 MB carries some
ten thousand buyers; every shard of the shop is read in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from comeback.aws import dynamo, keys
from comeback.aws.shops import VALUE
from comeback.domain import segments
from comeback.domain.prediction_model import FittedModel
from comeback.domain.segments import Buyer, Segmentation


class DynamoSegmentStore:
    def __init__(self, ddb: Any, table: str, shards: int) -> None:
        self._ddb = ddb
        self._table = table
        self._shards = shards
        self.items_read = 0  # buyers index items read (the bench's figure)

    def shops(self) -> list[str]:
        ids: list[str] = []
        for page in self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="#pk = :shops",
            ExpressionAttributeNames={"#pk": keys.PK},
            ExpressionAttributeValues={":shops": {"S": keys.SHOPS}},
            ProjectionExpression=keys.SK,
        ):
            ids.extend(item[keys.SK]["S"] for item in page.get("Items", []))
        return ids

    def buyers(self, shop_id: str) -> Iterator[Buyer]:
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
                    buyer = _buyer(item)
                    if buyer is not None:
                        yield buyer

    def contact_ids(self, shop_id: str) -> Iterator[str]:
        """The shop's buyers' contact ids, from the same index (its keys only)."""
        prefix = keys.contact(shop_id, "")
        for shard in keys.all_buyer_shards(shop_id, self._shards):
            for page in self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=keys.BUYER_INDEX,
                KeyConditionExpression="#b = :shard",
                ExpressionAttributeNames={"#b": keys.BUYER_PK, "#pk": keys.PK},
                ExpressionAttributeValues={":shard": {"S": shard}},
                ProjectionExpression="#pk",
            ):
                for item in page.get("Items", []):
                    self.items_read += 1
                    yield item[keys.PK]["S"].removeprefix(prefix)

    def save(self, shop_id: str, segmentation: Segmentation) -> None:
        self._put(shop_id, keys.SEGMENTS, segmentation.model_dump_json())

    def save_predictions(self, shop_id: str, model: FittedModel) -> None:
        self._put(shop_id, keys.PREDICTIONS, model.model_dump_json())

    def get(self, shop_id: str) -> Segmentation | None:
        raw = self._get(shop_id, keys.SEGMENTS)
        return Segmentation.model_validate_json(raw) if raw else None

    def get_predictions(self, shop_id: str) -> FittedModel | None:
        raw = self._get(shop_id, keys.PREDICTIONS)
        return FittedModel.model_validate_json(raw) if raw else None

    def _put(self, shop_id: str, sort_key: str, value: str) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={keys.PK: {"S": keys.shop(shop_id)}, keys.SK: {"S": sort_key}, VALUE: {"S": value}},
        )

    def _get(self, shop_id: str, sort_key: str) -> str | None:
        answer = self._ddb.get_item(
            TableName=self._table, Key={keys.PK: {"S": keys.shop(shop_id)}, keys.SK: {"S": sort_key}}
        )
        item = answer.get("Item")
        return str(item[VALUE]["S"]) if item else None


def _buyer(item: dict[str, Any]) -> Buyer | None:
    plain = dynamo.plain(item)
    spent = {str(k): int(v) for k, v in (plain.get("spent") or {}).items()}
    gone = bool(plain.get("erased_at") or plain.get("merged_into"))
    orders = int(plain.get("orders_count") or 0)
    return segments.buyer(orders, spent, plain.get("last_order_at"), gone, plain.get("first_order_at"))
