"""Least privilege, function by function: explicit actions on the resources each one touches.

- ingest: read shop signing secrets (the only one), put events on the custom bus
- contacts: read/write contacts (batch writes for merges and erasure); privacy
  requests: Scan the table (a shop's erasure pages through it), put its own continuation on the
  bus, mail a customer's export to the shop's team through SES
- sweep: query the due index, read shop configs, advance profiles, delete the held messages it
  releases, read the shop's products (cross-sell), send to the outbox; the daily segments job:
  list shops, query the buyers index, put each shop's RFM cut points; a follow-up task it opens
  (an NPS detractor): mailed to the shop's team through SES and published to the task topic
- sender: read/write messages and contacts, send through SES, re-queue throttled sends (outbox),
  read the token key
- ses_events: read/write contacts and messages
- preferences: read/write contacts, read the token key, put reason answers on the custom bus

Reading a queue is granted by its event source (`functions` x `queues` in the stack), invoking
by API Gateway and Scheduler through their own resource policy and role.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam

from comeback.aws import keys

from .email import Email
from .events import EventRouting
from .functions import ComebackFunction
from .queues import Queues
from .secrets import Secrets
from .table import Table
from .tasks import TaskTopic

# DynamoDB actions by what the code does (ShopDirectory reads a shop's config with a Query of its
# partition; transactions are authorised as their Put/Update items).
CONTACT_WRITER = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query")
TABLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "contacts": (*CONTACT_WRITER, "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:Scan"),
    # DeleteItem: a held message the sweep releases is deleted in the releasing transaction
    # GetItem/PutItem: the reward ledger (a reward, its code, a pool draw) and recipes' activity notes
    # BatchGetItem: the shop's products a recommendation recipe reads (comeback.aws.product_store)
    "sweep": (
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    ),
    "sender": CONTACT_WRITER,
    "ses_events": CONTACT_WRITER,
    # an unsubscribe is a conditional Put of the profile with its dedupe item (ContactStore.apply_delta)
    "preferences": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"),
}
INDEX_READERS = {"sweep": (keys.DUE_INDEX, keys.BUYER_INDEX)}  # due contacts; a shop's buyers (segments)
# Which queues a function produces to (its COMEBACK_QUEUE_URLS and its sqs:SendMessage).
# (contacts asks for no message: what an order calls for, a recipe queues for the sweep to send)
# (the sweep sends to its own queue: the schedule's fan-out, and a unit's continuation)
SENDS_TO: dict[str, tuple[str, ...]] = {"sweep": ("outbox", "sweep"), "sender": ("outbox",)}
TOKEN_KEY_READERS = ("sender", "preferences")
SHOP_SECRET_READERS = ("ingest",)
# preferences: a one-click reason answer is a feedback.submitted shop event, published like ingest's
# sweep and contacts: the engine's notices (contact.stage_changed, reward.*) for the shop's systems
BUS_PUBLISHERS = ("ingest", "contacts", "preferences", "sweep")
SES_SENDERS = ("sender", "contacts", "sweep")
# the sweep opens follow-up tasks (comeback.app.tasks) and publishes each new one to the task topic
TASK_PUBLISHERS = ("sweep",)


def _allow(role: iam.IRole, actions: Sequence[str], resources: Sequence[str]) -> None:
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))


def grant_least_privilege(
    functions: dict[str, ComebackFunction],
    *,
    table: Table,
    routing: EventRouting,
    queues: Queues,
    secrets: Secrets,
    email: Email,
    tasks: TaskTopic,
) -> None:
    for name, function in functions.items():
        role = function.role
        if name in TABLE_ACTIONS:
            _allow(role, TABLE_ACTIONS[name], [table.table_arn])
        for index in INDEX_READERS.get(name, ()):
            _allow(role, ["dynamodb:Query"], [table.index_arn(index)])
        for queue in SENDS_TO.get(name, ()):
            _allow(role, ["sqs:SendMessage"], [queues.queue(queue).queue_arn])
        if name in BUS_PUBLISHERS:
            _allow(role, ["events:PutEvents"], [routing.bus.event_bus_arn])
        if name in SHOP_SECRET_READERS:
            secrets.grant_read_shop_secrets(role)
        if name in TOKEN_KEY_READERS:
            secrets.grant_read_token_key(role)
        if name in SES_SENDERS:
            email.grant_send(role)
        if name in TASK_PUBLISHERS:
            tasks.grant_publish(role)
