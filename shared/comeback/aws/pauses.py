"""Sending pauses: SES refused to send for a while, for the whole account or for one shop.

    pk                  sk      what
    SENDING             PAUSE   the account's pause (every shop's mail goes through one account)
    SHOP#{shop}         PAUSE   one shop's pause (its sender domain)

Both are items the sender already reads cheaply through the shop directory's cached Query of a
partition (`ShopDirectory.sending_pauses`), so checking costs nothing per message. A pause is
never shortened by a later, shorter one; it expires by itself (`until`), and DynamoDB's TTL removes
the item a day later. An operator who fixed the cause early deletes the item (docs/runbook.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from comeback.aws import dynamo, keys
from comeback.domain.clock import isoformat

PAUSE = "PAUSE"
SENDING = "SENDING"
VALUE = "value"  # the attribute Powertools' DynamoDBProvider reads (as for the shop's CONFIG)


class Pause(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: Literal["account", "shop"]
    shop_id: str | None = None  # the shop's, for a shop pause
    until: datetime
    reason: str  # the SES error code
    since: datetime


def pause_pk(pause: Pause) -> str:
    return SENDING if pause.scope == "account" else keys.shop(pause.shop_id or "")


class PauseStore:
    """The write side (the sender, when SES refuses)."""

    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self._table = table

    def pause(self, pause: Pause) -> bool:
        """Record `pause`; False when one that lasts at least as long is already there."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=dynamo.item(
                    {
                        keys.PK: pause_pk(pause),
                        keys.SK: PAUSE,
                        VALUE: pause.model_dump_json(),
                        "until": isoformat(pause.until),
                        keys.TTL: int((pause.until + timedelta(days=1)).timestamp()),
                    }
                ),
                ConditionExpression="attribute_not_exists(#pk) OR #until < :until",
                ExpressionAttributeNames={"#pk": keys.PK, "#until": "until"},
                ExpressionAttributeValues={":until": {"S": isoformat(pause.until)}},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True
