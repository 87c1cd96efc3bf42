"""Keys of the single DynamoDB table.

    pk                              sk                       what
    SHOP#{shop}                     CONFIG                   the shop: name, playbook, status
    SHOP#{shop}#C#{contact}         PROFILE                  the profile (aggregates, consent, due)
    SHOP#{shop}#C#{contact}         EVT#{event id}           one item per applied event (the history)
    SHOP#{shop}#E#{event id}        SEEN                     the shop used this event id (dedupe, forever)
    SHOP#{shop}#C#{contact}         MSG#{campaign}#{step}#{period}   one item per message (exactly once)
    SHOP#{shop}#C#{contact}         HOLD#{message key}       a message held back by a cap or quiet hours
    SHOP#{shop}#EMAIL#{sha256}      ALIAS                    email -> contact, for events without an id
    SHOP#{shop}#C#{contact}         REWARD#{recipe}#{step}#{period}  one item per reward (the ledger)
    SHOP#{shop}#CODE#{CODE}         CODE                     a reward's code (upper-cased): unique per shop
    SHOP#{shop}#POOL#{pool}         #{CODE}                  an uploaded code not yet issued (drawn once)
    SHOP#{shop}                     SEGMENTS                 the shop's RFM cut points (the daily job's)
    SHOP#{shop}                     PREDICTIONS              the shop's fitted BG/NBD, Gamma-Gamma (same job)
    SHOP#{shop}#PRODUCT#{product}   PRODUCT                  a product: catalogue data, co-occurrence counts
    SHOPS                           {shop}                   every shop (the daily jobs' list)

The due index (GSI `due`) is sparse: only items with `due_pk` and `due_at` are in it: profiles
with something pending, and held messages (until the time they may go out). `due_pk` is
`DUE#{shard}`, a hash of the contact spread over `due_shards` partitions, so one hot instant does
not land on one partition; every profile carries its shard for life, and is on the index while it
has a `due_at`. The sweep queries every shard for `due_at <= now`.

The buyers index (GSI `buyers`) holds every profile under `buyer_pk` = `BUY#{shop}#{shard}`,
with only what the daily segmentation job and the insight reports read (orders, spend, first and
last order, the order history by month, the first order's code and channel, erased or merged):
a shop's profiles are read through it without a Scan, and a profile write that changes none of
those attributes costs the index nothing.
"""

from __future__ import annotations

import hashlib

PK = "pk"
SK = "sk"
DUE_INDEX = "due"
DUE_PK = "due_pk"
DUE_AT = "due_at"
TTL = "expires_at"

BUYER_INDEX = "buyers"
BUYER_PK = "buyer_pk"
# what the segmentation job reads of a profile (nothing else is copied to the index)
BUYER_ATTRIBUTES = ("orders_count", "spent", "last_order_at", "erased_at", "merged_into",
                    # and what the shop's insight reports read (comeback.aws.insight_store)
                    "first_order_at", "order_months", "spent_months", "first_order")  # fmt: skip

# a shop's follow-up tasks (NPS detractors), listed by shop, newest first; sparse: only tasks have it
TASK_INDEX = "tasks"
TASK_PK = "task_pk"
TASK_AT = "task_at"
TASK_PREFIX = "TASK#"

PROFILE = "PROFILE"
SEGMENTS = "SEGMENTS"
PREDICTIONS = "PREDICTIONS"
SHOPS = "SHOPS"
CONFIG = "CONFIG"
ALIAS = "ALIAS"
SEEN = "SEEN"


def shop(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


def contact(shop_id: str, contact_id: str) -> str:
    return f"SHOP#{shop_id}#C#{contact_id}"


def event(event_id: str) -> str:
    return f"EVT#{event_id}"


def seen_event(shop_id: str, event_id: str) -> str:
    """Event ids are unique per shop, whichever customer they name: the marker lives outside contacts."""
    return f"SHOP#{shop_id}#E#{event_id}"


def message(key: str) -> str:
    return f"MSG#{key}"


def deferred(key: str) -> str:
    return f"HOLD#{key}"


HOLD_PREFIX = "HOLD#"
REWARD_PREFIX = "REWARD#"
CODE = "CODE"


def reward(key: str) -> str:
    return f"{REWARD_PREFIX}{key}"


def reward_code(shop_id: str, code: str) -> str:
    """A code is written with its reward, in one transaction, on condition it is new: unique per shop."""
    return f"SHOP#{shop_id}#CODE#{code}"


def code_pool(shop_id: str, pool: str) -> str:
    return f"SHOP#{shop_id}#POOL#{pool}"


def pool_code(code: str) -> str:
    return f"#{code}"


PRODUCT = "PRODUCT"


def product(shop_id: str, product_id: str) -> str:
    """A product's entry (one partition each: a best-seller's counts do not share a hot key)."""
    return f"SHOP#{shop_id}#PRODUCT#{product_id}"


def note(at: str, kind: str) -> str:
    """A line of the contact's activity written by a recipe (a stage change ...), by time."""
    return f"N#{at}#{kind}"


def email_alias(shop_id: str, email_hash: str) -> str:
    return f"SHOP#{shop_id}#EMAIL#{email_hash}"


def due_shard(shop_id: str, contact_id: str, shards: int) -> str:
    digest = hashlib.blake2b(f"{shop_id}#{contact_id}".encode(), digest_size=4).digest()
    return f"DUE#{int.from_bytes(digest, 'big') % shards:03d}"


def all_due_shards(shards: int) -> list[str]:
    return [f"DUE#{i:03d}" for i in range(shards)]


def buyer_shard(shop_id: str, contact_id: str, shards: int) -> str:
    """The contact's partition of its shop on the buyers index (its due shard's number)."""
    return f"BUY#{shop_id}#{due_shard(shop_id, contact_id, shards).removeprefix('DUE#')}"


def all_buyer_shards(shop_id: str, shards: int) -> list[str]:
    return [f"BUY#{shop_id}#{i:03d}" for i in range(shards)]


def task(task_id: str) -> str:
    """A follow-up task, in its contact's partition."""
    return f"{TASK_PREFIX}{task_id}"


def shop_tasks(shop_id: str) -> str:
    """The task index's partition of a shop."""
    return f"SHOP#{shop_id}#TASKS"


def table_definition(name: str) -> dict[str, object]:
    """`CreateTable` arguments of the table; the CDK stack declares the same (a test compares)."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": "S"}
            for n in (PK, SK, DUE_PK, DUE_AT, BUYER_PK, TASK_PK, TASK_AT)
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": DUE_INDEX,
                "KeySchema": [
                    {"AttributeName": DUE_PK, "KeyType": "HASH"},
                    {"AttributeName": DUE_AT, "KeyType": "RANGE"},
                ],
                # ALL: the sweep decides from the index item alone, one read per due contact
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": BUYER_INDEX,
                "KeySchema": [
                    {"AttributeName": BUYER_PK, "KeyType": "HASH"},
                    {"AttributeName": PK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(BUYER_ATTRIBUTES)},
            },
            {
                "IndexName": TASK_INDEX,
                "KeySchema": [
                    {"AttributeName": TASK_PK, "KeyType": "HASH"},
                    {"AttributeName": TASK_AT, "KeyType": "RANGE"},
                ],
                # ALL: `comeback tasks list` reads the tasks from the index alone
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
    }
