"""What one deployed comeback stack costs per month, computed from usage and AWS list prices.

A pure model: no AWS calls. Two inputs, both in this file and both explicit:

* usage assumptions: per contact and per message (`Usage`, a dataclass: vary it for your shop),
  plus the request shapes and sizes of the code as built (module constants, each with its source);
* AWS list prices for us-east-1 (`PRICES`, each with its unit), as published on `PRICES_AS_OF`.

`python -m bench.cost` prints a Markdown table (service x 10k / 100k / 1M contacts, a total and a
per-1,000-contacts row) and the assumptions under it; `python -m bench.cost --detail 1000000`
prints every priced quantity of one size, to check a line by hand.

Free tiers are NOT applied, except two named ones: EventBridge Scheduler (14M invocations a month)
and X-Ray (100k traces recorded a month). The CloudWatch dashboard is assumed to be the account's
4th (the first 3 are free), so it is charged. Not included: data transfer out, support plans,
taxes, CloudTrail, SNS alarm notifications, the CDK asset bucket, CloudWatch API reads (dashboard
views, Logs Insights queries), X-Ray trace retrieval, EventBridge replays.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections import defaultdict
from dataclasses import dataclass

from comeback.app.observability import CLOUDWATCH_METRICS
from comeback.app.topology import TOPOLOGY, TRACED_BY_DEFAULT
from comeback.aws.contact_store import MARKER_LIFETIME

# ---------------------------------------------------------------------------------------------
# Prices: AWS public list prices, us-east-1, USD, first pricing tier (every quantity here stays in
# the first tier up to 1M contacts). The date is that of the published prices relied on: the most
# recent change used is Lambda billing the INIT phase of managed runtimes from 2025-08-01; the
# DynamoDB on-demand prices are those after the 2024-11-01 reduction.
# ---------------------------------------------------------------------------------------------
PRICES_AS_OF = "2025-08-01"

MILLION = 1_000_000

PRICES: dict[str, float] = {
    # API Gateway HTTP API: USD per request (USD 1.00 per million, first 300M a month; 512 KB = 1 request)
    "apigw_http_request": 1.00 / MILLION,
    # Lambda: USD per request (USD 0.20 per million)
    "lambda_request": 0.20 / MILLION,
    # Lambda arm64 (Graviton): USD per GB-second of billed duration (first 7.5B GB-s a month)
    "lambda_arm_gb_second": 0.0000133334,
    # DynamoDB on-demand: USD per write request unit (USD 0.625 per million, after the Nov 2024 cut)
    "ddb_wru": 0.625 / MILLION,
    # DynamoDB on-demand: USD per read request unit (USD 0.125 per million, after the Nov 2024 cut)
    "ddb_rru": 0.125 / MILLION,
    # DynamoDB Standard table class: USD per GB-month of storage (table and index data, 100 B/item overhead)
    "ddb_storage_gb_month": 0.25,
    # DynamoDB continuous backups (PITR): USD per GB-month of table size (indexes not included)
    "ddb_pitr_gb_month": 0.20,
    # EventBridge: USD per custom event put on a bus (USD 1.00 per million; each 64 KB chunk is one event)
    "eventbridge_custom_event": 1.00 / MILLION,
    # EventBridge archive: USD per GB of events archived (processing)
    "eventbridge_archive_gb": 0.10,
    # EventBridge archive: USD per GB-month of archived events stored
    "eventbridge_archive_storage_gb_month": 0.023,
    # EventBridge Scheduler: USD per invocation beyond the free 14M a month (USD 1.00 per million)
    "scheduler_invocation": 1.00 / MILLION,
    # SQS standard queue: USD per request (USD 0.40 per million; each 64 KB chunk is one request)
    "sqs_request": 0.40 / MILLION,
    # SES outbound email: USD per message (USD 0.10 per 1,000; no attachments, no dedicated IPs)
    "ses_email": 0.10 / 1000,
    # KMS: USD per customer-managed key per month (plus USD 1 per month for each of the first 2 rotations)
    "kms_key_month": 1.00,
    # KMS: USD per API request (USD 0.03 per 10,000)
    "kms_request": 0.03 / 10_000,
    # Secrets Manager: USD per secret per month
    "secret_month": 0.40,
    # Secrets Manager: USD per API call (USD 0.05 per 10,000)
    "secret_api_call": 0.05 / 10_000,
    # SSM Parameter Store: USD per standard parameter per month (SecureString included: no charge)
    "ssm_parameter_month": 0.0,
    # SSM Parameter Store: USD per GetParameter at standard throughput (no charge)
    "ssm_api_call": 0.0,
    # CloudWatch: USD per standard-resolution alarm (one metric) per month
    "cw_alarm_month": 0.10,
    # CloudWatch: USD per dashboard per month (the first 3 of an account are free; not applied here)
    "cw_dashboard_month": 3.00,
    # CloudWatch: USD per custom metric-month, first 10,000 metrics (EMF metrics too; prorated hourly)
    "cw_metric_month": 0.30,
    # CloudWatch Logs: USD per GB ingested (Standard class; also the first tier of Lambda vended logs)
    "cw_logs_ingest_gb": 0.50,
    # CloudWatch Logs: USD per GB-month stored (billed compressed; modelled uncompressed: an upper bound)
    "cw_logs_storage_gb_month": 0.03,
    # X-Ray: USD per trace recorded beyond the free 100,000 a month (USD 5.00 per million)
    "xray_trace": 5.00 / MILLION,
}

# The unit of each price, as the detail table shows quantities.
UNITS: dict[str, str] = {
    "apigw_http_request": "requests",
    "lambda_request": "requests",
    "lambda_arm_gb_second": "GB-s",
    "ddb_wru": "WRU",
    "ddb_rru": "RRU",
    "ddb_storage_gb_month": "GB-month",
    "ddb_pitr_gb_month": "GB-month",
    "eventbridge_custom_event": "events",
    "eventbridge_archive_gb": "GB",
    "eventbridge_archive_storage_gb_month": "GB-month",
    "scheduler_invocation": "invocations",
    "sqs_request": "requests",
    "ses_email": "emails",
    "secret_month": "secret-months",
    "secret_api_call": "calls",
    "ssm_parameter_month": "parameter-months",
    "ssm_api_call": "calls",
    "kms_key_month": "key-months",
    "kms_request": "requests",
    "cw_alarm_month": "alarm-months",
    "cw_dashboard_month": "dashboard-months",
    "cw_metric_month": "metric-months",
    "cw_logs_ingest_gb": "GB",
    "cw_logs_storage_gb_month": "GB-month",
    "xray_trace": "traces",
}

# Free tiers applied (the only ones): monthly quantities not charged.
SCHEDULER_FREE_INVOCATIONS = 14_000_000  # EventBridge Scheduler: 14M invocations a month, always free
XRAY_FREE_TRACES = 100_000  # X-Ray: 100k traces recorded a month, always free

# ---------------------------------------------------------------------------------------------
# The system as built, not meant to be varied per shop: DynamoDB request shapes as the benches
# count them (bench/contacts.py, bench/sender.py, bench/sweep.py), resources as infra/ declares
# them; item sizes, durations and log volumes are estimates, stated as such.
# ---------------------------------------------------------------------------------------------
SECONDS_PER_MONTH = 30 * 24 * 3600  # a 30-day month
SWEEPS_PER_MONTH = 720  # the sweep schedule is rate(1 hour)
KB_PER_GB = 1024 * 1024

# DynamoDB item sizes, KB (as stored; DynamoDB adds ITEM_OVERHEAD_KB per item for storage)
PROFILE_KB = 2.0  # a contact's profile item
ACTIVITY_KB = 0.4  # one applied shop event (activity item): no TTL, kept Usage.history_months
MESSAGE_CLAIM_KB = 0.5  # the message item as the sender's transaction creates it (claim)
MESSAGE_KB = 0.6  # the message item after the sender's UpdateItem (what is stored)
MARKER_KB = 0.2  # SES event dedupe marker, one per SES event that changes a contact: TTL below
# A marker is deleted by the table's TTL after MARKER_LIFETIME (90 days, ContactStore.apply_delta):
# only so many months of them are stored at any time
MARKER_MONTHS = MARKER_LIFETIME.days / 30
DUE_KEYS_KB = 0.15  # a keys-only due index entry: pk, sk, the shard key and due_at (~150 B)
ITEM_OVERHEAD_KB = 100 / 1024  # DynamoDB's 100 bytes of per-item storage overhead (table and index)
SHOP_CONFIG_RRU = 1.0  # one Query of a shop's config items (playbook YAML, <= 8 KB, eventually consistent)
DUE_SHARDS = 8  # Settings.due_shards: the sweep queries each shard of the due index every hour

# Lambda (python3.13, arm64). Memory and batch sizes come from comeback.topology (what infra deploys).
MEMORY_MB = {f.name: f.memory_mb for f in TOPOLOGY.functions}
# Queues EventBridge feeds one message per event: their batches are full only with a batching
# window (a quiet stack's would be one message each); the outbox is sent ten at a time, the sweep's
# units one each by design.
FED_ONE_BY_ONE = ("contacts", "ses_events")
BATCHING_WINDOW = {q.name: q.batching_window_seconds for q in TOPOLOGY.queues}
BATCH = {
    q.consumer: 1 if q.name in FED_ONE_BY_ONE and not q.batching_window_seconds else q.batch_size
    for q in TOPOLOGY.queues
}
MS_PER_ITEM = {
    "ingest": 60,  # per webhook request (not per event): verify the signature, PutEvents
    "contacts": 40,  # per shop event applied (one TransactWriteItems)
    "sender": 80,  # per message: render, claim, SES SendEmail (the SES call dominates)
    "ses_events": 30,  # per SES event applied
    "preferences": 100,  # per page view or unsubscribe: token check, one read, maybe one write (estimate)
    "sweep": 2,  # per due contact found, on top of SWEEP_BASE_MS per run
}
SWEEP_BASE_MS = 1000  # per hourly sweep run: 8 shard queries, shop configs, start-up of the run
INIT_SECONDS = 1.5  # INIT phase of a cold start (Powertools, pydantic, boto3 imports): billed since 2025-08

# SQS: queues fed by EventBridge (1 SendMessage per event) or by our code (SendMessageBatch of 10)
EVENT_SOURCE_QUEUES = len(TOPOLOGY.queues)  # contacts, outbox, ses_events, sweep: each has an event source
POLLERS_PER_QUEUE = 5  # Lambda's minimum pollers per SQS event source
LONG_POLL_SECONDS = 20  # each idle poller's ReceiveMessage waits 20 s: 3 requests a minute, even when empty
SECRET_CACHE_SECONDS = 300  # Settings.secret_cache_seconds: Powertools caches secrets and shop configs 5 min

# CloudWatch: what infra/constructs/monitoring.py creates (tests/infra/test_monitoring.py keeps
# these equal to the template): a DLQ alarm per work queue + event delivery + schedules + the
# sweep's failed invocations; the oldest message of each work queue; errors of every function a
# queue or a schedule invokes (the API's 5xx alarm is that of the API-only ones) and near timeout
# of every function; the sweep's heartbeat and unfinished shards, messages to review, SES paused,
# refused shops, table throttles (one alarm on 2 metrics), bounce and complaint rates, API 5xx.
# No throttle alarms: a throttle shows as queue age, a failed invocation or a 5xx. An alarm is
# billed per metric it evaluates.
ALARMS = (
    (len(TOPOLOGY.queues) + 3)
    + len(TOPOLOGY.queues)
    + (len(TOPOLOGY.functions) - len(TOPOLOGY.api_only_functions()))
    + len(TOPOLOGY.functions)
    + 9
)
ALARM_METRICS = ALARMS + 1  # the table-throttle alarm's expression reads reads and writes
DASHBOARDS = 1  # assumed the account's 4th dashboard: charged
# Custom metrics: exactly those comeback.app.observability.CLOUDWATCH_METRICS makes (every other
# count is a log field). A metric is billed for the hours it is emitted: the steady ones all month,
# those emitted only when something is wrong (throttling, a pause, a claim to review) for
# INCIDENT_HOURS a month each, an assumption.
INCIDENT_HOURS = 24.0
STEADY_METRICS = sum(m.series for m in CLOUDWATCH_METRICS.values() if m.steady)
INCIDENT_METRICS = sum(m.series for m in CLOUDWATCH_METRICS.values() if not m.steady)
CUSTOM_METRIC_MONTHS = STEADY_METRICS + INCIDENT_METRICS * INCIDENT_HOURS / (SECONDS_PER_MONTH / 3600)
# One: the secrets key, which also encrypts the alarm topic (SQS uses SQS-managed SSE, DynamoDB an
# AWS owned key, the tasks topic the AWS managed SNS key). CloudWatch may use it only with the alarm
# topic's ARN as encryption context, so it decrypts no parameter (infra/constructs/monitoring.py).
KMS_KEYS = 1

# Log volume, KB of JSON per unit (Powertools structured logs)
LOG_KB_PER_EVENT = 0.6  # per shop event: ingest + contacts application lines
LOG_KB_PER_MESSAGE = 1.0  # per message sent
LOG_KB_PER_SES_EVENT = 0.3  # per SES event applied
LOG_KB_PER_PREFERENCES = 0.5  # per preferences request
LOG_KB_PER_SWEEP_RUN = 2.0  # per hourly sweep run (summary lines)
LOG_KB_PER_INVOCATION = 0.3  # Lambda platform START / END / REPORT lines, every invocation
EMF_KB_PER_INVOCATION = 0.3  # the EMF metrics blob Powertools flushes per invocation
LOG_KB_PER_API_REQUEST = 0.5  # API Gateway access log line
LOG_RETENTION_MONTHS = 1.0  # 30-day retention: about one month of logs is stored at any time
ARCHIVE_RETENTION_MONTHS = 3.0  # the shop-event archive keeps 90 days


@dataclass(frozen=True)
class Usage:
    """Behaviour per contact per month and per message (the defaults are the figures README quotes)."""

    # shop events (orders, sign-ups, visits ...) per contact per month
    events_per_contact: float = 3.0
    # shop events per webhook request (platforms may batch up to 100; most send one)
    events_per_request: float = 1.0
    # emails sent per contact per month
    emails_per_contact: float = 1.5
    # SES events published per email, by type (each one reaches the ses_events function)
    deliveries_per_email: float = 1.0
    opens_per_email: float = 0.35
    clicks_per_email: float = 0.04
    bounces_per_email: float = 0.01
    complaints_per_email: float = 0.0005
    # share of contacts that come due in a sweep in a month
    due_share: float = 0.30
    # share of profiles on the sparse due index at any time (stored again there: ALL projection)
    indexed_share: float = 0.30
    # unsubscribes per email (one-click POST or the page's button)
    unsubscribes_per_email: float = 0.003
    # preference page views per email
    page_views_per_email: float = 0.01
    # contacts per shop (one signing secret per shop); at least one shop
    contacts_per_shop: int = 10_000
    # months of activity items and messages kept (no TTL: the month-12 table; SES markers expire
    # after MARKER_MONTHS)
    history_months: float = 12.0
    # KB of one shop event as put on the bus and archived (envelope + detail; under 64 KB: one event)
    archived_event_kb: float = 1.5
    # cold starts: this share of invocations, plus so many per function per hour (recycling, idle reclaim)
    cold_start_share: float = 0.01
    cold_starts_per_function_hour: float = 1.0
    # rotations the two KMS keys have had (0 in year one; each of the first 2 adds USD 1 a key-month)
    kms_rotations: int = 0
    # whether SES events put on the default bus are billed as custom events (AWS service events: free)
    ses_events_billed: bool = False
    # product.viewed events per contact per month, on top of events_per_contact (1M views at 100k
    # contacts: 10); each browsing session (views_per_session views) wakes the browse recipe once,
    # 24 hours later, whether or not it sends (one more due contact for the sweep)
    views_per_contact: float = 0.0
    views_per_session: float = 4.0
    # What-ifs of the design (the defaults are the code and stack as built): where shop secrets and
    # the token key live ("ssm": Parameter Store SecureString under the stack's key, or
    # "secretsmanager", as before issue 12), which functions are traced with X-Ray (infra context
    # `traced_functions`), and how many customer-managed KMS keys
    kms_keys: int = KMS_KEYS
    alarm_metrics: int = ALARM_METRICS
    secret_store: str = "ssm"
    traced: tuple[str, ...] = TRACED_BY_DEFAULT
    # the due index's projection: "ALL" (as built: the sweep reads profiles from the index) or
    # "KEYS_ONLY" (the sweep would read them with BatchGetItem, 100 at a time)
    due_projection: str = "ALL"
    # with KEYS_ONLY, the share of profile writes (other than the sweep's) that move due_at: only
    # those write the index; 0 is the lower bound, indexed_share an upper one
    due_key_moves_share: float = 0.0

    @property
    def browsed_kb(self) -> float:
        """What the per-day view counters add to a profile (2 counters of ~30 B per product-day,
        at most MAX_BROWSED = 120 of them): about 1 KB at 10 views a month, 3.5 KB at most."""
        return min(3.5, self.views_per_contact * 2 * 30 / 1024 * 1.7)

    @property
    def ses_events_per_email(self) -> float:
        return self.deliveries_per_email + self.contact_ses_events_per_email

    @property
    def contact_ses_events_per_email(self) -> float:
        """SES events that change the contact (comeback.messaging.ses_feedback.profile_change):
        opens, clicks, bounces, complaints. A delivery is only noted on the message record."""
        return (
            self.opens_per_email + self.clicks_per_email + self.bounces_per_email + self.complaints_per_email
        )


@dataclass(frozen=True)
class Item:
    """One priced quantity: service, what it is, how many, the unit and the PRICES key."""

    service: str
    what: str
    quantity: float
    unit: str
    price: str

    @property
    def usd(self) -> float:
        return self.quantity * PRICES[self.price]


API = "API Gateway (HTTP API)"
LAMBDA = "Lambda (arm64)"
DDB = "DynamoDB (on-demand)"
EVENTBRIDGE = "EventBridge (bus, archive)"
SCHEDULER = "EventBridge Scheduler"
SQS = "SQS"
SES = "SES (outbound email)"
KMS = "KMS"
SECRETS = "Secrets (Secrets Manager or SSM)"
CLOUDWATCH = "CloudWatch (logs, metrics, alarms, dashboard)"
XRAY = "X-Ray"
SERVICES = (API, LAMBDA, DDB, EVENTBRIDGE, SCHEDULER, SQS, SES, KMS, SECRETS, CLOUDWATCH, XRAY)


def _wru(kb: float, *, transactional: bool = False) -> float:
    """Write request units of one item write: 1 per KB (rounded up), doubled in a transaction."""
    return math.ceil(kb) * (2 if transactional else 1)


def _rru(kb: float) -> float:
    """Read request units of one strongly consistent GetItem: 1 per 4 KB (rounded up)."""
    return float(math.ceil(kb / 4))


def _cached_fetches(requests: float, keys: float, containers: float) -> float:
    """Fetches of values cached SECRET_CACHE_SECONDS per container: one per window with a request.

    `requests` spread evenly over `keys` (shops) and `containers`; a (container, key) fetches once
    in each 5-minute window that has at least one request for it (Poisson arrivals).
    """
    if requests <= 0:
        return 0.0
    windows = SECONDS_PER_MONTH / SECRET_CACHE_SECONDS * keys * containers
    return windows * (1 - math.exp(-requests / windows))


def _containers(busy_seconds: float) -> float:
    """Warm containers of a function: its average concurrency, rounded up (at least 1)."""
    return max(1.0, math.ceil(busy_seconds / SECONDS_PER_MONTH))


def items(contacts: int, usage: Usage = Usage()) -> list[Item]:
    """Every priced quantity of one month at `contacts` contacts."""
    u = usage
    out: list[Item] = []

    def add(service: str, what: str, quantity: float, price: str) -> None:
        out.append(Item(service, what, quantity, UNITS[price], price))

    profile_kb = PROFILE_KB + u.browsed_kb
    shops = max(1, math.ceil(contacts / u.contacts_per_shop))
    events = contacts * (u.events_per_contact + u.views_per_contact)
    requests = events / u.events_per_request
    emails = contacts * u.emails_per_contact
    ses_events = emails * u.ses_events_per_email
    contact_ses_events = emails * u.contact_ses_events_per_email  # the others only note the message
    due = contacts * (u.due_share + u.views_per_contact / u.views_per_session)
    unsubscribes = emails * u.unsubscribes_per_email
    page_views = emails * u.page_views_per_email
    preferences = unsubscribes + page_views

    # API Gateway: every webhook request and every preferences request
    add(API, "shop webhook requests", requests, "apigw_http_request")
    add(API, "unsubscribe / preference page requests", preferences, "apigw_http_request")

    # Lambda: invocations and GB-seconds per function
    def batches(n: float, fn: str) -> float:
        return n / BATCH.get(fn, 1)

    invocations = {
        "ingest": requests,
        "contacts": batches(events, "contacts"),
        "sender": batches(emails, "sender"),
        "ses_events": batches(ses_events, "ses_events"),
        "sweep": float(SWEEPS_PER_MONTH * (1 + DUE_SHARDS)),  # the fan-out, then one unit per shard
        "preferences": preferences,
    }
    busy_seconds = {
        "ingest": requests * MS_PER_ITEM["ingest"] / 1000,
        "contacts": events * MS_PER_ITEM["contacts"] / 1000,
        "sender": emails * MS_PER_ITEM["sender"] / 1000,
        "ses_events": ses_events * MS_PER_ITEM["ses_events"] / 1000,
        "sweep": (SWEEPS_PER_MONTH * SWEEP_BASE_MS + due * MS_PER_ITEM["sweep"]) / 1000,
        "preferences": preferences * MS_PER_ITEM["preferences"] / 1000,
    }
    hours = SECONDS_PER_MONTH / 3600
    for fn, n in invocations.items():
        gb = MEMORY_MB[fn] / 1024
        add(LAMBDA, f"{fn}: requests", n, "lambda_request")
        add(LAMBDA, f"{fn}: duration ({MEMORY_MB[fn]} MB)", busy_seconds[fn] * gb, "lambda_arm_gb_second")
        cold = min(n, n * u.cold_start_share + hours * u.cold_starts_per_function_hour)
        add(
            LAMBDA, f"{fn}: INIT of {cold:,.0f} cold starts", cold * INIT_SECONDS * gb, "lambda_arm_gb_second"
        )

    # DynamoDB: request units (measured shapes) and storage
    keys_only = u.due_projection == "KEYS_ONLY"
    index_item_kb = DUE_KEYS_KB if keys_only else profile_kb
    if keys_only:
        # only a write that moves due_at touches a keys-only index: a delete and a put of its keys
        gsi_wru_per_profile_write = u.due_key_moves_share * 2 * _wru(DUE_KEYS_KB)
    else:
        # a profile on the due index is written there too (ALL projection: any change), as a plain write
        gsi_wru_per_profile_write = u.indexed_share * _wru(profile_kb)
    wru_event = _wru(ACTIVITY_KB, transactional=True) + _wru(profile_kb, transactional=True)
    wru_email = (
        _wru(MESSAGE_CLAIM_KB, transactional=True) + _wru(profile_kb, transactional=True) + _wru(MESSAGE_KB)
    )
    # an SES event that changes the contact: its marker and the profile in a transaction, then the
    # message's UpdateItem; any other (a delivery) is that UpdateItem alone, with no read
    wru_ses = _wru(MARKER_KB, transactional=True) + _wru(profile_kb, transactional=True) + _wru(MESSAGE_KB)
    # the sweep's UpdateItem moves or removes due_at, an index key: a delete and a put on the index
    wru_due = _wru(profile_kb) + 2 * _wru(index_item_kb)
    add(
        DDB,
        "writes: events applied (TransactWriteItems of 2)",
        events * (wru_event + gsi_wru_per_profile_write),
        "ddb_wru",
    )
    add(
        DDB,
        "writes: messages sent (transaction + UpdateItem)",
        emails * (wru_email + gsi_wru_per_profile_write),
        "ddb_wru",
    )
    add(
        DDB,
        "writes: SES events that change the contact (transaction + UpdateItem)",
        contact_ses_events * (wru_ses + gsi_wru_per_profile_write),
        "ddb_wru",
    )
    add(
        DDB,
        "writes: SES deliveries (UpdateItem of the message)",
        (ses_events - contact_ses_events) * _wru(MESSAGE_KB),
        "ddb_wru",
    )
    add(DDB, "writes: sweep (UpdateItem + index delete/put)", due * wru_due, "ddb_wru")
    add(
        DDB,
        "writes: unsubscribes (UpdateItem)",
        unsubscribes * (_wru(profile_kb) + gsi_wru_per_profile_write),
        "ddb_wru",
    )
    add(DDB, "reads: profile GetItem per message (strong)", emails * _rru(profile_kb), "ddb_rru")
    add(
        DDB,
        "reads: GetItem per SES event that changes the contact (strong)",
        contact_ses_events * _rru(profile_kb),
        "ddb_rru",
    )
    # Query sums item sizes over a page: 2 KB per due contact at 0.5 RRU per 4 KB; an empty page costs 0.5
    sweep_rru = due * index_item_kb / 4 * 0.5 + SWEEPS_PER_MONTH * DUE_SHARDS * 0.5
    add(DDB, "reads: sweep queries of the due index", sweep_rru, "ddb_rru")
    if keys_only:  # then the profiles, a BatchGetItem of 100 (eventually consistent: 0.5 RRU per 4 KB each)
        add(DDB, "reads: sweep BatchGetItem of the due profiles", due * _rru(profile_kb) * 0.5, "ddb_rru")
    add(DDB, "reads: preferences GetItem (strong)", preferences * _rru(profile_kb), "ddb_rru")
    # each item needs its shop's config (cached per container); each hourly sweep reads every shop's
    config_reads = SWEEPS_PER_MONTH * shops + sum(
        _cached_fetches(n, shops, _containers(busy_seconds[fn]))
        for fn, n in (
            ("contacts", events),
            ("sender", emails),
            ("ses_events", contact_ses_events),  # a delivery needs no playbook
            ("preferences", preferences),
        )
        if n > 0
    )
    add(DDB, "reads: shop config (cached 5 min per container)", config_reads * SHOP_CONFIG_RRU, "ddb_rru")
    history = u.history_months
    table_kb = (
        contacts * (profile_kb + ITEM_OVERHEAD_KB)
        + events * history * (ACTIVITY_KB + ITEM_OVERHEAD_KB)
        + emails * history * (MESSAGE_KB + ITEM_OVERHEAD_KB)
        + contact_ses_events * min(history, MARKER_MONTHS) * (MARKER_KB + ITEM_OVERHEAD_KB)
    )
    index_kb = contacts * u.indexed_share * (index_item_kb + ITEM_OVERHEAD_KB)
    add(DDB, f"storage: table (month {history:g})", table_kb / KB_PER_GB, "ddb_storage_gb_month")
    add(
        DDB,
        f"storage: due index ({u.due_projection} projection)",
        index_kb / KB_PER_GB,
        "ddb_storage_gb_month",
    )
    add(DDB, "PITR continuous backup of the table", table_kb / KB_PER_GB, "ddb_pitr_gb_month")

    # EventBridge: shop events on the custom bus (under 64 KB: one event each), the archive; SES
    # events reach the default bus as AWS service events (free), rule deliveries to SQS are free
    chunks = math.ceil(u.archived_event_kb / 64)
    add(EVENTBRIDGE, "PutEvents: shop events on the custom bus", events * chunks, "eventbridge_custom_event")
    if u.ses_events_billed:
        add(EVENTBRIDGE, "SES events on the default bus", ses_events, "eventbridge_custom_event")
    archived_gb = events * u.archived_event_kb / KB_PER_GB
    add(EVENTBRIDGE, "archive: events archived", archived_gb, "eventbridge_archive_gb")
    add(
        EVENTBRIDGE,
        "archive: storage (90 days kept)",
        archived_gb * ARCHIVE_RETENTION_MONTHS,
        "eventbridge_archive_storage_gb_month",
    )

    # EventBridge Scheduler: the hourly sweep, inside the 14M free invocations
    add(
        SCHEDULER,
        "invocations beyond the free 14M",
        max(0.0, SWEEPS_PER_MONTH - SCHEDULER_FREE_INVOCATIONS),
        "scheduler_invocation",
    )

    # SQS: sends, batched receives and deletes, and the event sources' idle long polls
    add(
        SQS,
        "contacts queue: send (EventBridge) + receive/10 + delete/10",
        events * (1 + 2 / BATCH["contacts"]),
        "sqs_request",
    )
    add(
        SQS,
        "outbox: SendMessageBatch/10 + receive/10 + delete/10",
        emails * 3 / BATCH["sender"],
        "sqs_request",
    )
    add(
        SQS,
        "ses_events queue: send (EventBridge) + receive/10 + delete/10",
        ses_events * (1 + 2 / BATCH["ses_events"]),
        "sqs_request",
    )
    idle_polls = EVENT_SOURCE_QUEUES * POLLERS_PER_QUEUE * SECONDS_PER_MONTH / LONG_POLL_SECONDS
    add(
        SQS,
        f"idle long polls: {EVENT_SOURCE_QUEUES} queues x {POLLERS_PER_QUEUE} pollers x 20 s",
        idle_polls,
        "sqs_request",
    )

    # SES
    add(SES, "emails sent", emails, "ses_email")

    # Secrets Manager and KMS: every GetSecretValue decrypts with the customer-managed key
    secret_calls = _cached_fetches(invocations["ingest"], shops, _containers(busy_seconds["ingest"])) + sum(
        _cached_fetches(invocations[fn], 1, _containers(busy_seconds[fn]))
        for fn in ("sender", "preferences")  # the unsubscribe token key
        if invocations[fn] > 0
    )
    if u.secret_store == "ssm":
        add(
            SECRETS,
            f"SecureString parameters: {shops} shop(s) + the token key",
            shops + 1,
            "ssm_parameter_month",
        )
        add(SECRETS, "GetParameter (cached 5 min per container)", secret_calls, "ssm_api_call")
    else:
        add(SECRETS, f"secrets: {shops} shop(s) + the token key", shops + 1, "secret_month")
        add(SECRETS, "GetSecretValue (cached 5 min per container)", secret_calls, "secret_api_call")
    key_months = u.kms_keys * (1 + min(u.kms_rotations, 2))
    keys = f"{u.kms_keys} customer-managed key{'s' if u.kms_keys != 1 else ''}"
    add(KMS, f"{keys} ({u.kms_rotations} rotations)", key_months, "kms_key_month")
    add(KMS, "Decrypt of each secret fetched", secret_calls, "kms_request")

    # CloudWatch
    all_invocations = sum(invocations.values())
    log_kb = (
        events * LOG_KB_PER_EVENT
        + emails * LOG_KB_PER_MESSAGE
        + ses_events * LOG_KB_PER_SES_EVENT
        + preferences * LOG_KB_PER_PREFERENCES
        + SWEEPS_PER_MONTH * LOG_KB_PER_SWEEP_RUN
        + all_invocations * (LOG_KB_PER_INVOCATION + EMF_KB_PER_INVOCATION)
        + (requests + preferences) * LOG_KB_PER_API_REQUEST
    )
    alarms = ALARMS + u.alarm_metrics - ALARM_METRICS
    add(
        CLOUDWATCH, f"{alarms} standard alarms ({u.alarm_metrics} metrics)", u.alarm_metrics, "cw_alarm_month"
    )
    add(CLOUDWATCH, "dashboard (the account's 4th: charged)", DASHBOARDS, "cw_dashboard_month")
    add(
        CLOUDWATCH,
        f"custom metrics: {STEADY_METRICS} steady + {INCIDENT_METRICS} on incidents "
        f"({INCIDENT_HOURS:g} h a month)",
        CUSTOM_METRIC_MONTHS,
        "cw_metric_month",
    )
    add(CLOUDWATCH, "logs ingested (functions, EMF, API access)", log_kb / KB_PER_GB, "cw_logs_ingest_gb")
    add(
        CLOUDWATCH,
        "logs stored (30 days)",
        log_kb / KB_PER_GB * LOG_RETENTION_MONTHS,
        "cw_logs_storage_gb_month",
    )

    # X-Ray: every invocation starts a trace; default sampling keeps 1 a second + 5 % of the rest
    reservoir = float(SECONDS_PER_MONTH)
    traced = sum(n for fn, n in invocations.items() if fn in u.traced)
    traces = min(traced, reservoir) + 0.05 * max(0.0, traced - reservoir)
    add(
        XRAY,
        f"traces recorded ({traces:,.0f}) beyond the free 100k",
        max(0.0, traces - XRAY_FREE_TRACES),
        "xray_trace",
    )
    return out


# ---------------------------------------------------------------------------------------------
# One hourly sweep, on paper, from the per-item figures bench/sweep.py measured (bench/results/
# latest.json, "sweep"): the schedule fans out one invocation per shard of the due index; each
# unit Queries its shard page by page (the index projects the whole profile: one item read per
# due contact), asks the recipes, queues the messages and writes each due contact once.
# ---------------------------------------------------------------------------------------------
MEASURED_ITEMS_READ_PER_DUE = 1.0  # bench/sweep.py at 20k and 100k contacts: items read / due contacts
MEASURED_DUE_ITEM_BYTES = 1137  # mean size of a due profile as the Query returns it (DynamoDB's rules)
MEASURED_PROFILE_BYTES = 1255  # mean size of a stored profile (any, due or not)
MEASURED_TABLE_ITEMS_PER_CONTACT = 6.07  # profile, alias and activity items of the 20k table, per contact
MEASURED_TABLE_BYTES_PER_CONTACT = 1732  # their bytes per contact (4,229 RRU for 20k): what a Scan reads
# our code per due contact (sweep wall time minus time inside moto calls): 14.1 ms at 20k, 3.3 ms at
# 100k (the first run pays the warm-up, the machine is shared); the larger is used
MEASURED_OWN_MS_PER_DUE = 14.1
# share of due contacts whose advance is a transaction (the update with activity notes: stage changes,
# steps) rather than a plain UpdateItem, and share that were issued a reward (a transaction of 2 items
# after a GetItem): 955 and 312 of the 1,000 due at 100k
MEASURED_TRANSACTION_SHARE = 0.955
MEASURED_REWARD_SHARE = 0.312
NOTE_KB = 0.3  # an activity note item
SWEEP_PAGE = 100  # comeback.app.sweep.PAGE: items per Query
# DynamoDB and SQS round trips inside AWS (same region), typical figures, assumed not measured:
QUERY_MS = 12.0  # one Query page of up to 100 items (~110 KB)
UPDATE_MS = 6.0  # the conditional UpdateItem that advances one contact (sequential in a unit)
SQS_BATCH_MS = 15.0  # one SendMessageBatch of 10 messages to the outbox
UNIT_START_MS = 150.0  # a warm unit's own start: the shop config, the first client calls
FAN_OUT_MS = 200.0  # the scheduled invocation that sends one unit per shard to the sweep queue
SWEEP_TIMEOUT_S = next(f.timeout_seconds for f in TOPOLOGY.functions if f.name == "sweep")
SWEEP_RESERVE_S = 20  # comeback.app.sweep.RESERVE_SECONDS: a unit continues itself past this


@dataclass(frozen=True)
class SweepHour:
    """One hourly sweep at a size: what it reads and writes, how long it runs, what it costs."""

    contacts: int
    due: float
    shards: int
    invocations: float  # the fan-out, one unit per shard, and the continuations of long units
    query_pages: float
    query_rru: float  # the due index's Queries
    rru: float  # and the rewards' reads
    wru: float
    unit_seconds: float  # the slowest unit's (the shards are even): the sweep's wall time
    lambda_gb_seconds: float
    usd: float
    scan_rru: float  # a Scan of the whole table instead of the due index
    messages: float

    @property
    def scan_ratio(self) -> float:
        return self.scan_rru / self.query_rru if self.query_rru else math.inf


def hourly_sweep(contacts: int, due_share: float = 0.01, shards: int = DUE_SHARDS) -> SweepHour:
    """An hourly sweep at `contacts` contacts of which `due_share` came due in the hour."""
    due = contacts * due_share
    per_shard = due / shards
    pages_per_shard = max(1, math.ceil(per_shard * MEASURED_ITEMS_READ_PER_DUE / SWEEP_PAGE))
    pages = pages_per_shard * shards
    # Query: 0.5 RRU per 4 KB of the page's items (eventually consistent), an empty page 0.5
    page_kb = min(per_shard * MEASURED_ITEMS_READ_PER_DUE, SWEEP_PAGE) * MEASURED_DUE_ITEM_BYTES / 1024
    query_rru = pages * max(0.5, math.ceil(page_kb / 4) * 0.5)
    rru = query_rru
    # each due contact: its profile updated (in a transaction with its notes, mostly); its due_at
    # moves, so the index deletes and puts; some are issued a reward (reward + code items)
    profile_kb = MEASURED_PROFILE_BYTES / 1024
    advance = MEASURED_TRANSACTION_SHARE * (
        _wru(profile_kb, transactional=True) + _wru(NOTE_KB, transactional=True)
    ) + (1 - MEASURED_TRANSACTION_SHARE) * _wru(profile_kb)
    wru = due * (advance + 2 * _wru(profile_kb) + MEASURED_REWARD_SHARE * 2 * _wru(0.5, transactional=True))
    rru += due * MEASURED_REWARD_SHARE * _rru(0.5)  # the reward's GetItem (strong)
    messages = due  # at most one message per due contact and recipe step: an upper bound of one each
    unit_ms = (
        UNIT_START_MS
        + pages_per_shard * QUERY_MS
        + per_shard * (MEASURED_OWN_MS_PER_DUE + UPDATE_MS + SQS_BATCH_MS / 10)
    )
    budget_ms = (SWEEP_TIMEOUT_S - SWEEP_RESERVE_S) * 1000
    continuations = shards * max(0, math.ceil(unit_ms / budget_ms) - 1)
    invocations = 1 + shards + continuations
    gb = MEMORY_MB["sweep"] / 1024
    gb_seconds = (FAN_OUT_MS + shards * unit_ms) / 1000 * gb
    sqs = shards * 3 + continuations * 3 + messages / 10  # unit send/receive/delete, outbox batches
    usd = (
        invocations * PRICES["lambda_request"]
        + gb_seconds * PRICES["lambda_arm_gb_second"]
        + rru * PRICES["ddb_rru"]
        + wru * PRICES["ddb_wru"]
        + sqs * PRICES["sqs_request"]
    )
    scan_rru = math.ceil(contacts * MEASURED_TABLE_BYTES_PER_CONTACT / 4096) * 0.5
    return SweepHour(
        contacts=contacts,
        due=due,
        shards=shards,
        invocations=invocations,
        query_pages=pages,
        query_rru=query_rru,
        rru=rru,
        wru=wru,
        unit_seconds=min(unit_ms, budget_ms) / 1000,
        lambda_gb_seconds=gb_seconds,
        usd=usd,
        scan_rru=scan_rru,
        messages=messages,
    )


def sweep_figures(
    sizes: tuple[int, ...] = (100_000, 1_000_000), due_share: float = 0.01
) -> dict[str, object]:
    """The hourly sweep on paper as `make bench` records it (bench/results/latest.json)."""
    return {
        f"{_label(n)} contacts, {due_share:.0%} due": {
            **dataclasses.asdict(hourly_sweep(n, due_share)),
            "usd_per_month": round(hourly_sweep(n, due_share).usd * SWEEPS_PER_MONTH, 2),
        }
        for n in sizes
    }


def sweep_table(sizes: tuple[int, ...] = (100_000, 1_000_000), due_share: float = 0.01) -> str:
    """The hourly sweep on paper, a column per size (Markdown)."""
    hours = [hourly_sweep(n, due_share) for n in sizes]
    rows = [
        ["Hourly sweep", *(f"{_label(n)} contacts, {due_share:.0%} due" for n in sizes)],
        ["---", *("---:" for _ in sizes)],
        ["due contacts", *(f"{h.due:,.0f}" for h in hours)],
        ["invocations (fan-out + one per shard)", *(f"{h.invocations:,.0f}" for h in hours)],
        ["Query pages", *(f"{h.query_pages:,.0f}" for h in hours)],
        ["read units: due index Queries", *(f"{h.query_rru:,.1f}" for h in hours)],
        ["read units: a Scan of the table instead", *(f"{h.scan_rru:,.0f}" for h in hours)],
        ["read units in all (+ rewards' GetItem)", *(f"{h.rru:,.1f}" for h in hours)],
        ["write units", *(f"{h.wru:,.0f}" for h in hours)],
        ["slowest unit (wall time)", *(f"{h.unit_seconds:,.1f} s" for h in hours)],
        ["Lambda GB-s", *(f"{h.lambda_gb_seconds:,.1f}" for h in hours)],
        ["USD per sweep (Lambda, DynamoDB, SQS)", *(_usd(h.usd, 4) for h in hours)],
        ["USD per month (720 sweeps)", *(_usd(h.usd * SWEEPS_PER_MONTH) for h in hours)],
    ]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def monthly(contacts: int, usage: Usage = Usage()) -> dict[str, float]:
    """USD per month of each service, for `contacts` contacts (every service present, none negative)."""
    totals: dict[str, float] = defaultdict(float)
    for item in items(contacts, usage):
        totals[item.service] += item.usd
    return {service: totals[service] for service in SERVICES}


def _label(contacts: int) -> str:
    if contacts >= MILLION and contacts % MILLION == 0:
        return f"{contacts // MILLION}M"
    if contacts >= 1000 and contacts % 1000 == 0:
        return f"{contacts // 1000}k"
    return f"{contacts:,}"


def _usd(value: float, decimals: int = 2) -> str:
    return f"${value:,.{decimals}f}"


def assumptions(usage: Usage = Usage()) -> list[str]:
    u = usage
    return [
        f"Per contact per month: {u.events_per_contact:g} shop events ({u.events_per_request:g} per webhook "
        f"request), {u.emails_per_contact:g} emails; {u.due_share:.0%} of contacts come due in a sweep.",
        f"SES events per email: delivery {u.deliveries_per_email:g}, open {u.opens_per_email:g}, click "
        f"{u.clicks_per_email:g}, bounce {u.bounces_per_email:g}, complaint {u.complaints_per_email:g}; "
        f"unsubscribes {u.unsubscribes_per_email:.1%} and preference page views "
        f"{u.page_views_per_email:.0%} of emails.",
        "Lambda python3.13 arm64, memory from the topology; ms per item: "
        + ", ".join(f"{fn} {ms}" for fn, ms in MS_PER_ITEM.items())
        + f" (+ {SWEEP_BASE_MS} ms per hourly run); SQS batches as the event sources take them: "
        + ", ".join(f"{fn} {n}" for fn, n in BATCH.items())
        + " (the contacts and SES-events sources wait up to "
        + f"{max(BATCHING_WINDOW[q] for q in FED_ONE_BY_ONE)} s to fill a batch: without a window a "
        + "quiet stack's would be one message each); "
        f"{u.cold_start_share:.0%} of invocations + {u.cold_starts_per_function_hour:g} per function-hour "
        f"are cold starts with a billed {INIT_SECONDS:g} s INIT.",
        f"DynamoDB, measured shapes: event = TransactWriteItems of 2 (0.4 + 2 KB) = 6 WRU; message = 1 "
        f"strong GetItem + transaction (0.5 + 2 KB) + UpdateItem (0.6 KB) = 1 RRU + 7 WRU; SES event that "
        f"changes the contact (open, click, bounce, complaint) = 1 RRU + 7 WRU, a delivery = the message's "
        f"UpdateItem (1 WRU, no read); due contact = 0.25 RRU + 2 WRU; {u.indexed_share:.0%} of profile "
        f"writes also write the due index ({u.due_projection} projection), the sweep's update deletes "
        "and puts there.",
        f"Storage at month {u.history_months:g}: profiles 2 KB, activity 0.4 KB, messages 0.6 KB, SES "
        f"markers 0.2 KB (+100 B each) for the contact-changing SES events, deleted by TTL after "
        f"{MARKER_LIFETIME.days} days, nothing else with a TTL; PITR on the table; archive of "
        f"{u.archived_event_kb:g} KB per shop event kept 90 days; logs kept 30 days "
        "(stored uncompressed: an upper bound).",
        f"One shop (one secret) per {u.contacts_per_shop:,} contacts, plus the token key, in "
        f"{'SSM Parameter Store (SecureString)' if u.secret_store == 'ssm' else 'Secrets Manager'}; secrets "
        "and shop configs cached 5 min per warm container (average concurrency, rounded up); an unknown "
        "shop id is remembered 5 min too, so refused requests cost no extra lookups.",
        f"SQS idle cost: {EVENT_SOURCE_QUEUES} event sources x {POLLERS_PER_QUEUE} pollers x a 20 s long poll"
        f" = {EVENT_SOURCE_QUEUES * POLLERS_PER_QUEUE * SECONDS_PER_MONTH // LONG_POLL_SECONDS:,} "
        "ReceiveMessage a month, even with no traffic.",
        f"CloudWatch: {ALARMS} standard alarms ({ALARM_METRICS} metrics billed), {DASHBOARDS} dashboard "
        "charged (assumed the account's 4th), "
        f"custom metrics as comeback.app.observability.CLOUDWATCH_METRICS makes them: {STEADY_METRICS} "
        f"emitted all month, {INCIDENT_METRICS} only on incidents ({INCIDENT_HOURS:g} h a month each); "
        "every other count is a log field; logs 0.6 KB per event, 1 KB per message, 0.3 KB per SES "
        "event, 0.3 KB platform lines + 0.3 KB EMF per invocation, 0.5 KB per API request.",
        (
            f"X-Ray: every invocation of {' and '.join(u.traced)} is a trace (the others are not traced); "
            "default sampling 1/s + 5 % of the rest; 100k traces free. "
            if u.traced
            else "X-Ray: tracing off. "
        )
        + f"KMS: {u.kms_keys} key{'s' if u.kms_keys != 1 else ''} after {u.kms_rotations} yearly "
        "rotations (a rotated key costs $2 in year 2, $3 from year 3).",
        "SES events reach the default bus as AWS service events: not billed by EventBridge; rule "
        "deliveries to SQS are not billed (the SQS requests are). No other free tier is applied.",
    ]


def table(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), usage: Usage = Usage()) -> str:
    """The Markdown table: a row per service, a column per size, the total, per 1,000 contacts."""
    costs = [monthly(n, usage) for n in sizes]
    head = ["Service", *(f"{_label(n)} contacts" for n in sizes)]
    rows = [head, ["---", *("---:" for _ in sizes)]]
    rows += [[service, *(_usd(c[service]) for c in costs)] for service in SERVICES]
    totals = [sum(c.values()) for c in costs]
    rows.append(["**Total per month**", *(f"**{_usd(t)}**" for t in totals)])
    per_thousand = [_usd(t / n * 1000, 3) if n else "-" for t, n in zip(totals, sizes, strict=True)]
    rows.append(["Per 1,000 contacts", *per_thousand])
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "",
        f"USD per month, AWS list prices for us-east-1 as of {PRICES_AS_OF} (`PRICES_AS_OF`), computed by "
        "`python -m bench.cost`. Assumptions:",
        "",
        *(f"- {a}" for a in assumptions(usage)),
    ]
    return "\n".join(lines)


def detail(contacts: int, usage: Usage = Usage()) -> str:
    """Every priced quantity of one size, as a Markdown table (to check a line by hand)."""
    rows = ["| Service | What | Quantity | Unit | USD |", "|---|---|---:|---|---:|"]
    for item in items(contacts, usage):
        rows.append(
            f"| {item.service} | {item.what} | {item.quantity:,.2f} | {item.unit} | {item.usd:,.4f} |"
        )
    return "\n".join(rows)


def views_table(contacts: int = 100_000, views: int = 1_000_000) -> str:
    """A shop of `contacts` contacts with `views` product views a month, beside the same shop without."""
    plain = monthly(contacts)
    browsing = monthly(contacts, Usage(views_per_contact=views / contacts))
    rows = [
        ["Service", f"{_label(contacts)} contacts", f"+ {views:,} views a month"],
        ["---", "---:", "---:"],
        *([service, _usd(plain[service]), _usd(browsing[service])] for service in SERVICES),
        ["**Total per month**", f"**{_usd(sum(plain.values()))}**", f"**{_usd(sum(browsing.values()))}**"],
    ]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


# What-ifs beside the stack as built, each one change from it (not cumulative): what the choices
# made for issue 12 saved, and what the ones not taken would.
OPTIONS: tuple[tuple[str, dict[str, object]], ...] = (
    ("as built", {}),
    (
        "shop secrets and the token key in Secrets Manager (before issue 12)",
        {"secret_store": "secretsmanager"},
    ),
    ("X-Ray on every function (before issue 12)", {"traced": tuple(f.name for f in TOPOLOGY.functions)}),
    ("a second KMS key of the alarm topic's own (before this change)", {"kms_keys": 2}),
    (
        "a throttle alarm per function, an error alarm for ingest and preferences (before this change)",
        {"alarm_metrics": ALARM_METRICS + len(TOPOLOGY.functions) + len(TOPOLOGY.api_only_functions())},
    ),
    (
        "due index KEYS_ONLY + BatchGetItem, only the sweep moves due_at (lower bound)",
        {"due_projection": "KEYS_ONLY"},
    ),
    (
        "due index KEYS_ONLY + BatchGetItem, every indexed write moves due_at (upper bound)",
        {"due_projection": "KEYS_ONLY", "due_key_moves_share": Usage().indexed_share},
    ),
)


def options_table(contacts: int = 100_000, shops: tuple[int, ...] = (10, 1000)) -> str:
    """Totals of the OPTIONS, each one change from as built, at `contacts` contacts split among so
    many shops, and at 1M contacts."""
    rows = [
        ["Design", *(f"{_label(contacts)} contacts, {n:,} shops" for n in shops), "1M contacts, 100 shops"],
        ["---", *("---:" for _ in shops), "---:"],
    ]
    for name, change in OPTIONS:
        totals = [
            sum(monthly(contacts, Usage(contacts_per_shop=max(1, contacts // n), **change)).values())  # type: ignore[arg-type]
            for n in shops
        ]
        big = sum(monthly(1_000_000, Usage(**change)).values())  # type: ignore[arg-type]
        rows.append([name, *(_usd(t) for t in totals), _usd(big)])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def projection_writes(contacts: int = 1_000_000) -> dict[str, float]:
    """DynamoDB write units a month of the due index's projection at `contacts`: ALL against
    KEYS_ONLY (both bounds of how many writes move due_at), and the reads KEYS_ONLY adds."""

    def units(usage: Usage, what: str) -> float:
        return sum(i.quantity for i in items(contacts, usage) if i.service == DDB and i.what.startswith(what))

    plain = Usage()
    lower = Usage(due_projection="KEYS_ONLY")
    upper = Usage(due_projection="KEYS_ONLY", due_key_moves_share=plain.indexed_share)
    return {
        "all_wru": units(plain, "writes"),
        "keys_only_wru_lower": units(lower, "writes"),
        "keys_only_wru_upper": units(upper, "writes"),
        "keys_only_extra_rru": units(lower, "reads: sweep BatchGetItem"),
        "all_usd": sum(monthly(contacts, plain).values()),
        "keys_only_usd_lower": sum(monthly(contacts, lower).values()),
        "keys_only_usd_upper": sum(monthly(contacts, upper).values()),
    }


def document() -> str:
    """docs/cost.md, every figure computed here (tests/unit/test_cost.py keeps the file equal)."""
    plain = monthly(100_000)
    big = monthly(1_000_000)
    shops_1000 = monthly(100_000, Usage(contacts_per_shop=100))
    total = sum(plain.values())
    p = projection_writes()
    shops_1000_manager = monthly(100_000, Usage(contacts_per_shop=100, secret_store="secretsmanager"))
    return "\n".join(
        [
            "# What a deployment costs per month",
            "",
            "<!-- generated by `python -m bench.cost --doc > docs/cost.md`; do not edit by hand -->",
            "",
            "The monthly AWS bill of one deployed comeback stack in us-east-1, at 10k, 100k and 1M contacts.",
            "Every figure is computed by `bench/cost.py` (`python -m bench.cost`) from the usage assumptions",
            "and AWS list prices listed in that file. No AWS call is made. `python -m bench.cost --detail",
            "1000000` lists every priced quantity of one size, so each line can be checked by hand.",
            "",
            table(),
            "",
            "## Reading the table",
            "",
            f"- **100k contacts ({_usd(total)}):** SES ({_usd(plain[SES])}) is the largest line; CloudWatch "
            f"({_usd(plain[CLOUDWATCH])}: {ALARMS} alarms, the dashboard, "
            f"{STEADY_METRICS + INCIDENT_METRICS} custom metrics), "
            f"DynamoDB ({_usd(plain[DDB])}) and KMS ({_usd(plain[KMS])}) follow.",
            f"- **1M contacts ({_usd(sum(big.values()))}):** SES ({_usd(big[SES])}), DynamoDB "
            f"({_usd(big[DDB])}), CloudWatch ({_usd(big[CLOUDWATCH])}) and KMS ({_usd(big[KMS])}).",
            f"- **1,000 shops:** 100k contacts in 1,000 shops cost {_usd(sum(shops_1000.values()))} a "
            f"month, secrets {_usd(shops_1000[SECRETS])} of it: a shop's secret is a standard SecureString "
            "parameter (no monthly charge); the same shops in Secrets Manager would cost "
            f"{_usd(sum(shops_1000_manager.values()))}.",
            "- **The due index's projection (ALL), measured at 1M contacts:** "
            f"{p['all_wru'] / MILLION:,.2f}M write units a month; "
            "KEYS_ONLY with a BatchGetItem per 100 due contacts: "
            f"{p['keys_only_wru_lower'] / MILLION:,.2f}M (only the sweep moves due_at) to "
            f"{p['keys_only_wru_upper'] / MILLION:,.2f}M (every write of an indexed profile moves it) plus "
            f"{p['keys_only_extra_rru'] / MILLION:,.2f}M read units: {_usd(p['keys_only_usd_lower'])} to "
            f"{_usd(p['keys_only_usd_upper'])} against {_usd(p['all_usd'])} ("
            f"{(p['all_usd'] - p['keys_only_usd_lower']) / p['all_usd']:.1%} at best). Not clearly cheaper, "
            "for a second round trip per page of the sweep and profiles read eventually consistent beside "
            "their index entry: ALL is kept.",
            f"- **KMS keys:** {KMS_KEYS}. The secrets key also encrypts the alarm topic: CloudWatch may "
            "use it only with the topic's ARN as encryption context (and for the stack's own alarms), "
            "Parameter Store's callers only through Parameter Store for the stack's parameter paths, so "
            "neither grant reaches the other's data. A second key of the topic's own cost $1.00 a month "
            "for no narrower grant.",
            f"- **Alarms:** {ALARMS}, none for throttles: a throttled queue consumer leaves its messages "
            "on the queue (the queue's age alarm), a throttled sweep is retried for an hour and then "
            "lands in its failure queue (a DLQ alarm, the heartbeat), a throttled API function answers "
            "500 (the API's 5xx alarm, which pages at the first one and is also the error alarm of "
            "ingest and preferences). Each alarm is $0.10 a month.",
            "- **Custom metrics** are those `comeback.app.observability.CLOUDWATCH_METRICS` lists (alarmed "
            "or graphed), priced per function and dimension value; every other count the code makes is "
            "a field of the function's log, summed with Logs Insights.",
            "- **Not included:** data transfer out, support plans, taxes, and free tiers other than the "
            "EventBridge Scheduler and X-Ray ones. Also left out: CloudTrail, SNS alarm notifications, "
            "the CDK asset bucket, CloudWatch reads (dashboard views, Logs Insights), X-Ray trace "
            "retrieval and EventBridge replays.",
            "",
            "## Options",
            "",
            "Totals per month, each row one change from the stack as built, the first row (`python -m "
            "bench.cost --options`).",
            "",
            options_table(),
            "",
        ]
    )


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--views":
        print(views_table())
    elif len(sys.argv) == 3 and sys.argv[1] == "--detail":
        print(detail(int(sys.argv[2])))
    elif len(sys.argv) == 2 and sys.argv[1] == "--sweep":
        print(sweep_table())
    elif len(sys.argv) == 2 and sys.argv[1] == "--options":
        print(options_table())
    elif len(sys.argv) == 2 and sys.argv[1] == "--doc":
        print(document(), end="")
    else:
        print(table())
