"""Privacy requests: a customer's data export, and the erasure of a whole shop's contacts.

A customer's erasure is an ordinary `customer.deleted` event (the contact store's erasure path);
what lives here is what is not about one event:

- **Export** (`customers/data_request`, `comeback contacts export`): every item held about the
  customer, as JSON: one Query of the contact's partition (`ContactStore.story`: profile, activity,
  messages, held messages) plus the email alias that points at the contact. A request from a
  platform is kept for the operator as gzipped JSON under `SHOP#{shop}#PRIVACY` /
  `EXPORT#{request}#{part}` (split into parts, since a long story can pass DynamoDB's 400 KB item
  limit), expiring after `EXPORT_LIFETIME`, and mailed as a raw MIME email with the JSON attached to
  the shop's team address (`shop.team_email`, else the sender's reply-to, else its from address),
  through the `Mailer`, never through the campaign path. A redelivered request sends nothing again
  once the mail went out; a crash between storing and mailing mails on redelivery.
- **Shop erasure** (`shop/redact`): every item under the shop's key prefix `SHOP#{shop}#` goes,
  except what must stay to keep erased people erased: each contact gets a `customer.deleted` (a
  tombstone with `erased_at` and no personal data, so a late event cannot bring them back) and then
  its message records are deleted too; aliases, per-shop dedupe markers and kept exports are
  deleted outright. The table has no index of a shop's contacts, and keeping one would cost a write
  on every new contact for an operation that happens once in a shop's life, so the job pages
  through a Scan of the table filtered on the prefix (keys only). Progress (the Scan's cursor)
  is saved after each page in a job item `SHOP#{shop}#PRIVACY` / `REDACT#{request}`, on condition
  of its step number, so a crash makes the redelivered message start again at the last saved page
  (every step is idempotent), and a worker that finds the job moved by another stops. A message
  works for `budget_seconds` and then puts its own continuation on the bus.

Both arrive on the contacts queue as bus events of source `comeback.privacy` (the topology's
`shop-events` rule takes both sources), detail a `PrivacyRequest`.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from comeback.app.observability import count, logger
from comeback.app.topology import INGEST_SOURCE, PRIVACY_SOURCE
from comeback.aws import dynamo, keys
from comeback.aws.bus import BusEntry, Publisher
from comeback.aws.mailer import Email, Mailer, MailRejected
from comeback.domain.clock import Clock, isoformat
from comeback.domain.events import CustomerRef, EventEnvelope, parse_event

if TYPE_CHECKING:
    from comeback.app.runtime import Runtime
    from comeback.aws.contact_store import ContactStore
    from comeback.aws.shops import ShopDirectory
    from comeback.domain.playbook import Playbook

SHOP_REDACT = "privacy.shop_redact"
CUSTOMER_EXPORT = "privacy.customer_export"
DETAIL_TYPES = (SHOP_REDACT, CUSTOMER_EXPORT)

EXPORT_LIFETIME = timedelta(days=30)
PART_BYTES = 300_000  # base64 of gzipped JSON per kept item: well under DynamoDB's 400 KB
ATTACH_GZIP_OVER = 10_000_000  # SES takes 40 MB raw; a bigger export is attached gzipped
# What one message of a shop's erasure does before it queues its continuation: well inside the
# contacts function's 30 s timeout, and a Scan page of keys only (well under Scan's 1 MB page)
BUDGET_SECONDS = 15.0
PAGE_ITEMS = 500
MAIL_TAG = "privacy_export"  # no `contact` tag: SES feedback on this mail changes no contact


class PrivacyRequest(BaseModel):
    """A privacy request on its way from ingest (or its own continuation) to the contacts function."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["shop_redact", "customer_export"]
    shop_id: str = Field(min_length=1, max_length=128)
    request_id: str = Field(min_length=1, max_length=256)  # stable across the platform's redeliveries
    requested_at: AwareDatetime
    customer: CustomerRef | None = None
    orders: list[str] = Field(default_factory=list, max_length=10_000)
    source: str = "shopify"

    @property
    def detail_type(self) -> str:
        return SHOP_REDACT if self.kind == "shop_redact" else CUSTOMER_EXPORT

    def entry(self) -> BusEntry:
        return BusEntry(PRIVACY_SOURCE, self.detail_type, self.model_dump(mode="json", exclude_none=True))


def platform_entries(
    shop_id: str, platform: str, headers: Any, payload: Any, received_at: datetime
) -> list[BusEntry]:
    """The privacy requests a platform delivery makes ([] for any other delivery); for ingest.

    Raises `AdapterError` for a privacy delivery that names nobody.
    """
    if platform != "shopify":
        return []
    from comeback.platforms import shopify

    request = shopify.privacy_request(shop_id, headers, payload, received_at)
    return [request.entry()] if request else []


# -- the export document -----------------------------------------------------------------------


def to_json(document: Any) -> str:
    return json.dumps(document, default=_json_default, ensure_ascii=False, indent=2, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _readable(item: dict[str, Any]) -> dict[str, Any]:
    """An item as stored, with the event's JSON text (kept as text for cheapness) opened up."""
    if isinstance(item.get("event"), str):
        try:
            return {**item, "event": json.loads(item["event"])}
        except json.JSONDecodeError:
            return item
    return item


def export_document(
    contacts: ContactStore, store: PrivacyStore, shop_id: str, customer: CustomerRef, now: datetime
) -> dict[str, Any]:
    """Every item held about a customer, by customer id or email (following merges)."""
    profile = None
    for handle in (customer.id, customer.email):
        if handle and profile is None:
            profile = contacts.find(shop_id, handle)
    document: dict[str, Any] = {
        "shop_id": shop_id,
        "customer": customer.model_dump(exclude_none=True),
        "exported_at": isoformat(now),
        "found": profile is not None,
        "contact_id": profile.contact_id if profile else None,
        "items": [],
        "aliases": [],
    }
    if profile is None:
        return document
    document["items"] = [_readable(i) for i in contacts.story(shop_id, profile.contact_id)]
    emails = {e for e in (profile.email_address, customer.email) if e}
    document["aliases"] = [
        a for a in store.aliases(shop_id, emails) if a.get("contact_id") == profile.contact_id
    ]
    return document


# -- storage -----------------------------------------------------------------------------------


def privacy_pk(shop_id: str) -> str:
    return f"{keys.shop(shop_id)}#PRIVACY"


def _request_key(request_id: str) -> str:
    """A fixed-length key for any request id (ids of platforms can be long)."""
    return hashlib.sha256(request_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class KeptExport:
    data: bytes  # gzipped JSON
    emailed_at: str | None


@dataclass(frozen=True)
class Job:
    step: int
    cursor: dict[str, Any] | None
    erased: int
    done_at: str | None


@dataclass(frozen=True)
class Page:
    keys: list[tuple[str, str]]
    cursor: dict[str, Any] | None  # None: the Scan is over


class PrivacyStore:
    """The DynamoDB side of privacy requests (exports kept, shop-erasure jobs, the shop's Scan)."""

    def __init__(self, ddb: Any, table: str, attempts: int = 8) -> None:
        self._ddb = ddb
        self._table = table
        self._attempts = attempts

    def aliases(self, shop_id: str, emails: Iterable[str]) -> list[dict[str, Any]]:
        from comeback.domain.profile import email_key

        found = []
        for address in sorted(emails):
            typed = self._ddb.get_item(
                TableName=self._table,
                Key=dynamo.item(
                    {keys.PK: keys.email_alias(shop_id, email_key(address)), keys.SK: keys.ALIAS}
                ),
                ConsistentRead=True,
            ).get("Item")
            if typed:
                found.append({**dynamo.plain(typed), "email": address})
        return found

    # exports
    def kept_export(self, shop_id: str, request_id: str) -> KeptExport | None:
        prefix = f"EXPORT#{_request_key(request_id)}#"
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": privacy_pk(shop_id)}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb.query(**kwargs)
            items.extend(dynamo.plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        if not items or len(items) != int(items[0]["parts"]):
            return None  # never stored, or a crash in the middle of storing: store it again
        items.sort(key=lambda i: str(i[keys.SK]))
        data = base64.b64decode("".join(str(i["data"]) for i in items))
        return KeptExport(data, items[0].get("emailed_at"))

    def keep_export(self, shop_id: str, request_id: str, data: bytes, now: datetime, customer: str) -> None:
        # base64 text, not a binary attribute: the local emulator answers in JSON it writes itself
        text = base64.b64encode(data).decode()
        parts = [text[i : i + PART_BYTES] for i in range(0, len(text), PART_BYTES)] or [""]
        expires = int((now + EXPORT_LIFETIME).timestamp())
        for number, part in enumerate(parts):
            body = {
                keys.PK: privacy_pk(shop_id),
                keys.SK: f"EXPORT#{_request_key(request_id)}#{number:04d}",
                "request_id": request_id,
                "customer": customer,
                "parts": len(parts),
                "data": part,
                "created_at": isoformat(now),
                keys.TTL: expires,
            }
            self._ddb.put_item(TableName=self._table, Item=dynamo.item(body))

    def mark_emailed(self, shop_id: str, request_id: str, now: datetime, message_id: str) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=dynamo.item(
                {keys.PK: privacy_pk(shop_id), keys.SK: f"EXPORT#{_request_key(request_id)}#0000"}
            ),
            UpdateExpression="SET emailed_at = :at, ses_message_id = :id",
            ExpressionAttributeValues={":at": dynamo.value(isoformat(now)), ":id": dynamo.value(message_id)},
        )

    # shop erasure
    def _job_key(self, shop_id: str, request_id: str) -> dict[str, Any]:
        return dynamo.item({keys.PK: privacy_pk(shop_id), keys.SK: f"REDACT#{_request_key(request_id)}"})

    def job(self, shop_id: str, request_id: str, now: datetime) -> Job:
        """The job's progress; started (step 0) if it is new."""
        with contextlib.suppress(self._ddb.exceptions.ConditionalCheckFailedException):
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    **self._job_key(shop_id, request_id),
                    **dynamo.item(
                        {"request_id": request_id, "step": 0, "erased": 0, "started_at": isoformat(now)}
                    ),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        typed = self._ddb.get_item(
            TableName=self._table, Key=self._job_key(shop_id, request_id), ConsistentRead=True
        )["Item"]
        body = dynamo.plain(typed)
        cursor = json.loads(body["cursor"]) if body.get("cursor") else None
        return Job(int(body["step"]), cursor, int(body.get("erased", 0)), body.get("done_at"))

    def advance(
        self,
        shop_id: str,
        request_id: str,
        job: Job,
        cursor: dict[str, Any] | None,
        erased: int,
        now: datetime,
    ) -> Job | None:
        """Save the next page's cursor (done when there is none); None if another worker moved first."""
        done = isoformat(now) if cursor is None else None
        values = {":step": job.step, ":next": job.step + 1, ":erased": erased}
        sets = ["step = :next", "erased = erased + :erased"]
        if cursor is not None:
            sets.append("#cursor = :cursor")
            values[":cursor"] = json.dumps(cursor)  # type: ignore[assignment]
        else:
            sets.append("done_at = :done")
            values[":done"] = done  # type: ignore[assignment]
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._job_key(shop_id, request_id),
                UpdateExpression="SET " + ", ".join(sets) + ("" if cursor is not None else " REMOVE #cursor"),
                ConditionExpression="step = :step",
                ExpressionAttributeNames={"#cursor": "cursor"},
                ExpressionAttributeValues={k: dynamo.value(v) for k, v in values.items()},
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return None
        return Job(job.step + 1, cursor, job.erased + erased, done)

    def scan_shop(self, shop_id: str, cursor: dict[str, Any] | None, limit: int) -> Page:
        """One page of a Scan for the keys under `SHOP#{shop}#` (`limit` items read, before filtering)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :prefix)",
            "ProjectionExpression": "pk, sk",
            "ExpressionAttributeValues": {":prefix": {"S": keys.shop(shop_id) + "#"}},
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor
        page = self._ddb.scan(**kwargs)
        found = [(i[keys.PK]["S"], i[keys.SK]["S"]) for i in page.get("Items", [])]
        return Page(found, page.get("LastEvaluatedKey"))

    def delete(self, item_keys: list[tuple[str, str]]) -> None:
        for start in range(0, len(item_keys), 25):
            pending: dict[str, Any] = {
                self._table: [
                    {"DeleteRequest": {"Key": dynamo.item({keys.PK: pk, keys.SK: sk})}}
                    for pk, sk in item_keys[start : start + 25]
                ]
            }
            for attempt in range(self._attempts):
                if attempt:
                    time.sleep(0.05 * 2**attempt)
                pending = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not pending:
                    break
            else:
                raise RuntimeError("DynamoDB kept deletes unprocessed; the message is retried")


# -- the export email --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportEmail(Email):
    """An email with one attachment (the export); everything else as `Email` builds it."""

    attachment: bytes = b""
    filename: str = "export.json"

    def mime(self) -> bytes:
        message = BytesParser(_class=EmailMessage, policy=SMTP).parsebytes(super().mime())
        assert isinstance(message, EmailMessage)
        gzipped = self.filename.endswith(".gz")
        message.add_attachment(
            self.attachment,
            maintype="application",
            subtype="gzip" if gzipped else "json",
            filename=self.filename,
        )
        return message.as_bytes()


def team_address(playbook: Playbook) -> str:
    """Where a shop's privacy mail goes: `shop.team_email`, else the reply-to, else the sender."""
    shop = playbook.shop
    return str(shop.team_email or shop.sender.reply_to or shop.sender.from_email)


# -- the service -------------------------------------------------------------------------------


class Privacy:
    def __init__(
        self,
        contacts: ContactStore,
        store: PrivacyStore,
        shops: ShopDirectory,
        mailer: Mailer,
        publisher: Publisher,
        clock: Clock,
        budget_seconds: float | None = None,
        page_items: int | None = None,
    ) -> None:
        self._contacts = contacts
        self._store = store
        self._shops = shops
        self._mailer = mailer
        self._publisher = publisher
        self._clock = clock
        self._budget = BUDGET_SECONDS if budget_seconds is None else budget_seconds
        self._page_items = page_items or PAGE_ITEMS

    def handle(self, detail_type: str, detail: dict[str, Any]) -> None:
        request = PrivacyRequest.model_validate(detail)
        if detail_type == CUSTOMER_EXPORT:
            self.export(request)
        elif detail_type == SHOP_REDACT:
            self.redact_shop(request)
        else:
            raise ValueError(f"not a privacy request: {detail_type}")

    # export
    def export(self, request: PrivacyRequest) -> str | None:
        """Keep and mail the customer's export; the SES message id (None if it went out before)."""
        if request.customer is None:
            raise ValueError("an export names its customer")
        shop_id, now = request.shop_id, self._clock.now()
        kept = self._store.kept_export(shop_id, request.request_id)
        if kept and kept.emailed_at:
            logger.info("export mailed before", extra={"shop_id": shop_id, "request_id": request.request_id})
            return None
        if kept is None:
            document = export_document(self._contacts, self._store, shop_id, request.customer, now)
            document["request"] = {
                "id": request.request_id,
                "source": request.source,
                "requested_at": isoformat(request.requested_at),
                "orders_requested": request.orders,
            }
            data = gzip.compress(to_json(document).encode(), mtime=0)
            handle = request.customer.id or request.customer.email or ""
            self._store.keep_export(shop_id, request.request_id, data, now, handle)
            kept = KeptExport(data, None)
        playbook = self._shops.playbook(shop_id)
        try:
            message_id = self._mailer.send(self._export_email(request, playbook, kept.data, now))
        except MailRejected as exc:
            # kept for the operator all the same; retrying a refused address would refuse again
            logger.error(
                "export mail refused",
                extra={"shop_id": shop_id, "request_id": request.request_id, "error": str(exc)},
            )
            count("PrivacyExportsUndelivered")
            return None
        self._store.mark_emailed(shop_id, request.request_id, now, message_id)
        count("PrivacyExportsSent")
        return message_id

    def _export_email(self, request: PrivacyRequest, playbook: Playbook, data: bytes, now: datetime) -> Email:
        assert request.customer is not None
        text = gzip.decompress(data)
        document = json.loads(text)
        who = request.customer.id or request.customer.email or "?"
        filename = f"export-{request.shop_id}-{who}.json".replace("@", "_at_").replace("/", "_")
        attachment = text
        if len(text) > ATTACH_GZIP_OVER:
            attachment, filename = data, filename + ".gz"
        expires = isoformat(now + EXPORT_LIFETIME)
        summary = (
            f"A customer data request arrived from {request.source} for shop {request.shop_id}.\n\n"
            f"Customer: {who}\nRequest: {request.request_id}\nRequested at: "
            f"{isoformat(request.requested_at)}\nContact found: {'yes' if document['found'] else 'no'}\n"
            f"Items held: {len(document['items'])}, email aliases: {len(document['aliases'])}\n\n"
            f"The attached {filename} holds every item stored about this customer. Send what the "
            f"customer asked for to them; a copy is kept until {expires}.\n"
            f"The same export at any time: comeback contacts export {request.shop_id} {who}\n"
        )
        return ExportEmail(
            from_name=playbook.shop.sender.from_name,
            from_address=str(playbook.shop.sender.from_email),
            to=team_address(playbook),
            subject=f"Customer data request: {who} ({playbook.shop.name})",
            text=summary,
            html="<pre>" + summary.replace("&", "&amp;").replace("<", "&lt;") + "</pre>",
            date=now,
            tags={"shop": request.shop_id, "campaign": MAIL_TAG},
            attachment=attachment,
            filename=filename,
        )

    # shop erasure
    def redact_shop(
        self, request: PrivacyRequest, on_page: Callable[[int], None] | None = None
    ) -> Job | None:
        """Erase the shop's contacts for up to `budget_seconds`, then queue the rest of the job."""
        shop_id = request.shop_id
        job: Job | None = self._store.job(shop_id, request.request_id, self._clock.now())
        assert job is not None
        if job.done_at:
            return job
        playbook = self._shops.playbook(shop_id)
        deadline = time.monotonic() + self._budget
        while True:
            page = self._store.scan_shop(shop_id, job.cursor, self._page_items)
            erased = self._erase_page(request, page.keys, playbook)
            job = self._store.advance(
                shop_id, request.request_id, job, page.cursor, erased, self._clock.now()
            )
            if job is None:
                logger.info("shop erasure moved on by another worker", extra={"shop_id": shop_id})
                return None
            if on_page:
                on_page(job.step)
            if job.done_at:
                logger.info("shop erased", extra={"shop_id": shop_id, "contacts": job.erased})
                count("ShopsErased")
                return job
            if time.monotonic() >= deadline:
                # a fresh message for the rest: this one's time is up, and its work is saved
                self._publisher.publish([request.entry()])
                return job

    def _erase_page(self, request: PrivacyRequest, page: list[tuple[str, str]], playbook: Playbook) -> int:
        contact_prefix = keys.contact(request.shop_id, "")
        own = privacy_pk(request.shop_id)
        contacts: dict[str, None] = {}
        deletes: list[tuple[str, str]] = []
        for pk, sk in page:
            if pk.startswith(contact_prefix):
                contacts.setdefault(pk.removeprefix(contact_prefix))
                # the erasure keeps message records (exactly once); the shop is gone, so they go too
                if sk.startswith("MSG#"):
                    deletes.append((pk, sk))
            elif pk == own:
                if sk.startswith("EXPORT#"):
                    deletes.append((pk, sk))
            else:  # aliases, per-shop dedupe markers, anything else the shop's customers left
                deletes.append((pk, sk))
        for contact_id in contacts:
            self._contacts.apply(request.shop_id, self._erasure(request, contact_id), playbook)
        self._store.delete(deletes)
        count("ContactsErased", len(contacts))
        return len(contacts)

    @staticmethod
    def erasure_id(request: PrivacyRequest, contact_id: str) -> str:
        # one id per contact: event ids are unique per shop, and a redelivery repeats them
        return f"shop-redact:{_request_key(request.request_id + '#' + contact_id)}"

    def _erasure(self, request: PrivacyRequest, contact_id: str) -> Any:
        return parse_event(
            {
                "id": self.erasure_id(request, contact_id),
                "type": "customer.deleted",
                "occurred_at": isoformat(request.requested_at),
                "customer": {"id": contact_id},
                "data": {"reason": f"{request.source} shop/redact"},
            }
        )


def erasure_entry(shop_id: str, customer: CustomerRef, now: datetime, event_id: str) -> BusEntry:
    """The `customer.deleted` an operator's erasure puts on the bus (the path of every shop event)."""
    event = parse_event(
        {
            "id": event_id,
            "type": "customer.deleted",
            "occurred_at": isoformat(now),
            "customer": customer.model_dump(exclude_none=True),
            "data": {"reason": "operator request"},
        }
    )
    envelope = EventEnvelope(shop_id=shop_id, received_at=now, event=event)
    return BusEntry(INGEST_SOURCE, "customer.deleted", envelope.model_dump(mode="json", exclude_none=True))


def from_runtime(runtime: Runtime) -> Privacy:
    return Privacy(
        contacts=runtime.contacts,
        store=PrivacyStore(runtime.client("dynamodb"), runtime.settings.table_name),
        shops=runtime.shops,
        mailer=runtime.mailer,
        publisher=runtime.publisher,
        clock=runtime.clock,
    )
