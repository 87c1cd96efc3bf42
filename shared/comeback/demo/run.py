"""`comeback demo`: a generated shop replayed through the local runtime, day by day.

The runtime runs as a separate process (`comeback local serve`), exactly as a developer would
run it; this process is the shop: it signs each day's events with the shop's secret and posts
them to the public API, then moves simulated time to the next day and runs that day's sweep. At
the end it prints what the engine did (profiles, stages, emails by campaign, what was skipped and
why) and what win-back brought in.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

import yaml

from comeback.app.signing import signed_headers
from comeback.cli.report import render_table
from comeback.demo.generator import JST, DemoShop, generate
from comeback.demo.responses import Responses, planned_orders
from comeback.domain.money import format_money
from comeback.local.launch import local_serve

SHOP = "demo"
SECRET = "whsec_ZGVtby1zZWNyZXQ="
PLAYBOOK = Path(__file__).with_name("playbook.yaml")
BATCH = 100
SWEEP_AT = time_of_day(10, 0)  # JST: inside the shop's sending hours
ATTRIBUTION_DAYS = 30
# Each win-back email makes its recipient order with this probability (comeback.demo.responses).
UPLIFT = 0.0  # the shipped demo: off until its replay is reproducible with responses (see README)
SES_PRICE_PER_1000 = 0.10  # USD, SES outbound list price
# The runtime runs without its schedules: the replay runs the daily segments job itself (the RFM
# cut points and the fitted BG/NBD win-back's predictive timing reads) every this many days.
SEGMENTS_EVERY_DAYS = 7


class LocalApi:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Any:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def control(self, method: str, path: str, document: dict[str, Any] | None = None) -> Any:
        status, answer = self.call(
            method, path, json.dumps(document or {}).encode() if method == "POST" else None
        )
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {answer}")
        return answer


def _progress(done: int, total: int, label: str, width: int = 30) -> None:
    filled = int(width * done / total)
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {100 * done // total:3d}%  {label:<60}")
    sys.stderr.flush()


def _post_day(api: LocalApi, events: tuple[dict[str, Any], ...], at: datetime, tally: Counter[str]) -> None:
    for start in range(0, len(events), BATCH):
        body = json.dumps({"events": list(events[start : start + BATCH])}, ensure_ascii=False).encode()
        # signed with real time, as a shop's signer does; only the engine's business time is simulated
        headers = signed_headers(SECRET, body, f"msg_{at:%Y%m%d}_{start}", int(time.time()))
        headers["content-type"] = "application/json"
        status, answer = api.call("POST", f"/v1/shops/{SHOP}/events", body, headers)
        tally[f"http_{status}"] += 1
        if status in (202, 422):
            tally["accepted"] += answer["accepted"]
            tally["rejected"] += len(answer["rejected"])


def _replay(
    api: LocalApi,
    shop: DemoShop,
    tally: Counter[str],
    timing: dict[str, float],
    responses: Responses | None = None,
    segments_every_days: int | None = SEGMENTS_EVERY_DAYS,
) -> None:
    """Each day: post its events (the plan's, and the orders emails caused), move to the next
    morning, sweep, drain; then let the customers read the emails that went out. Every
    `segments_every_days` (None: never), before the sweep, the segments job refits the shop's model."""
    sweeps: Counter[str] = Counter()
    planned = dict(shop.events_by_day)
    days = [shop.start + timedelta(days=n) for n in range(shop.days)]
    read = 0
    for index, day in enumerate(days):
        events = planned.get(day, ())
        if responses is not None and responses.scheduled.get(day):
            events = tuple(sorted((*events, *responses.scheduled.pop(day)), key=lambda e: e["occurred_at"]))
        end_of_day = datetime.combine(day, datetime.max.time().replace(microsecond=0), tzinfo=JST)
        api.control("POST", "/_local/clock", {"set": end_of_day.isoformat()})
        began_day = time.monotonic()
        _post_day(api, events, end_of_day, tally)
        posted = time.monotonic()
        # Every sweep is drained before the next day's events arrive: otherwise what is in flight
        # would race them (an order landing before or after a queued win-back decides whether it
        # is still wanted), and the same seed would not give the same run.
        # the daily sweep runs the next morning: at night quiet hours would hold every email
        morning = datetime.combine(day + timedelta(days=1), SWEEP_AT, tzinfo=JST)
        # ... and the day's events are all applied before the sweep reads who is due
        api.control("POST", "/_local/drain")
        api.control("POST", "/_local/clock", {"set": morning.isoformat()})
        fitted = 0.0
        if segments_every_days and index % segments_every_days == segments_every_days - 1:
            fitting = time.monotonic()
            api.control("POST", "/_local/segments")
            fitted = time.monotonic() - fitting
        swept = api.control("POST", "/_local/sweep", {"drain": True})
        if responses is not None:
            for email in api.control("GET", f"/_local/outbox?since={read}"):
                read += 1
                responses.answer(email)
        timing["posting"] += posted - began_day
        timing["sweeping and draining"] += time.monotonic() - posted - fitted
        timing["segments job"] += fitted
        for campaign, n in (swept["report"] or {}).get("campaigns", {}).items():
            sweeps[campaign] += n
        if index % 3 == 0 or index == len(days) - 1:
            _progress(
                index + 1,
                len(days),
                f"{day}  {tally['accepted']:,} events  {sum(sweeps.values()):,} messages asked",
            )
    sys.stderr.write("\n")


@dataclass
class Simulation:
    shop: DemoShop
    tally: Counter[str]
    timing: dict[str, float]
    stats: dict[str, Any]
    outbox: list[dict[str, Any]]
    latest: list[dict[str, Any]]
    report: Any  # the win-back report (comeback.domain.campaign_report.CampaignReport)
    responses: Responses
    insight: dict[str, Any] | None = None  # `comeback report all --backtest`'s document


def simulate(
    seed: int = 7,
    customers: int = 2000,
    days: int = 548,
    port: int = 0,
    uplift: float = UPLIFT,
    overrides: dict[str, Any] | None = None,
    with_insight: bool = False,
    segments_every_days: int | None = SEGMENTS_EVERY_DAYS,
) -> Simulation:
    """Generate the shop, replay it through `comeback local serve` with customers who answer win-back
    emails with a known uplift, and read the win-back report off the runtime before it stops.
    `segments_every_days=None` skips the daily segments job: for a playbook that reads neither
    segments nor predictions (fixed win-back timing), where its refits are wasted time."""
    from comeback.aws import clients as aws
    from comeback.aws.report_store import DynamoCampaignRecords
    from comeback.cli.operator import local_target
    from comeback.domain.campaign_report import build_report

    shop = generate(seed=seed, customers=customers, start=date(2025, 5, 1), days=days)
    responses = Responses(seed, uplift, planned_orders(shop.all_events()))
    start = datetime.combine(shop.start, datetime.min.time(), tzinfo=JST)
    tally: Counter[str] = Counter()
    timing: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory() as scratch:
        playbook = PLAYBOOK
        if overrides:
            # the demo shop's playbook with some sections replaced (a test's shorter drip ...)
            playbook = Path(scratch) / "playbook.yaml"
            document = yaml.safe_load(PLAYBOOK.read_text(encoding="utf-8"))
            for section, values in overrides.items():
                document[section] = {**document.get(section, {}), **values}
            playbook.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        serve_args = (
            "--port", str(port), "--start", start.isoformat(), "--shop", f"{SHOP}:{SECRET}",
            "--playbook", f"{SHOP}={playbook}", "--no-schedules",
        )  # fmt: skip
        with local_serve(*serve_args) as base:
            api = LocalApi(base)
            print(f"  local runtime at {api.base} (embedded AWS emulator); replaying day by day:")
            _replay(api, shop, tally, timing, responses, segments_every_days)
            api.control("POST", "/_local/drain")
            stats = api.control("GET", "/_local/stats")
            outbox = api.control("GET", "/_local/outbox?summary=1")
            latest = _last_day_sample(api, outbox)
            settings = local_target(base).settings
            records = DynamoCampaignRecords(aws.client("dynamodb", settings), settings.table_name)
            as_of = datetime.fromisoformat(stats["now"].replace("Z", "+00:00"))
            report = build_report(records.records(SHOP, "winback", None), shop_id=SHOP, as_of=as_of)
            insight = _insight(api, settings, as_of) if with_insight else None
    return Simulation(shop, tally, timing, stats, outbox, latest, report, responses, insight)


def _insight(api: LocalApi, settings: Any, as_of: datetime) -> dict[str, Any]:
    """The shop's insight reports at the end of the replay, as `comeback report all` reads them:
    the daily job runs first (RFM cut points, the fitted predictions), as its schedule would."""
    import argparse

    from comeback.cli import insight

    api.control("POST", "/_local/segments")
    args = argparse.Namespace(by="month", backtest=True, holdout_days=None, days=14)
    sources = insight.Sources(settings=settings, shop_id=SHOP, now=as_of, since=None)
    return insight.document(sources, insight.SECTIONS, args)


def run_demo(
    seed: int = 7, customers: int = 2000, days: int = 548, port: int = 0, report: Path | None = None
) -> int:
    """Replay the generated shop, print what the engine did; with `report`, write the shop's insight
    report there (one self-contained HTML file) and print its path."""
    began = time.monotonic()
    print(f"comeback demo: generating a shop (seed {seed}, {customers:,} customers, {days} days) ...")
    run = simulate(seed, customers, days, port, with_insight=report is not None)
    counts = run.shop.counts()
    print(f"  {sum(counts.values()):,} events: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    _summary(run, time.monotonic() - began)
    if run.latest:
        _show(run.latest[0])
    print("Wall time    " + ", ".join(f"{k} {v:.0f} s" for k, v in run.timing.items()))
    if report is not None and run.insight is not None:
        from comeback.cli.report_html import render_html

        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_html(run.insight, lang="en"), encoding="utf-8")
        japanese = report.with_name(f"{report.stem}.ja{report.suffix}")
        japanese.write_text(render_html(run.insight, lang="ja"), encoding="utf-8")
        print(f"Report       {report.resolve()} (Japanese: {japanese.name}); open it in a browser")
    tally = run.tally
    return 0 if tally["http_202"] and not any(k.startswith("http_5") for k in tally) else 1


def _summary(run: Simulation, seconds: float) -> None:
    shop, tally, stats, outbox = run.shop, run.tally, run.stats, run.outbox
    contacts, stages = stats["contacts"], stats["stages"]
    by_campaign = Counter(f"{e['campaign']} step {e['step']}" for e in outbox)
    skipped = stats["skipped"]
    won_back, revenue = _attribution(shop, outbox)
    line = "-" * 72
    print(line)
    print(f"What the engine did ({shop.days} simulated days in {seconds:.0f} s of wall time)")
    print(line)
    print(
        f"Events       {tally['accepted']:,} accepted, {tally['rejected']:,} rejected "
        f"({tally['http_202']:,} signed requests answered 202)"
    )
    print(
        f"Contacts     {contacts.get('total', 0):,} profiles ({contacts.get('customers', 0):,} customers), "
        f"{contacts.get('merged', 0)} merged from email-only visitors, {contacts.get('erased', 0)} erased on request"
    )
    print(
        f"Consent      {contacts.get('subscribed', 0):,} subscribed, {contacts.get('suppressed', 0)} suppressed"
    )
    print("Stages       " + ", ".join(f"{k} {v:,}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])))
    print(
        f"Loyalty      {contacts.get('points_balance', 0):,} points outstanding; "
        f"revenue tracked {format_money(contacts.get('total_spent_minor', 0), 'JPY')}"
    )
    print(f"Emails sent  {len(outbox):,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(by_campaign.items())))
    if skipped:
        print(
            "Not sent     "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]))
            + "  (checked again at send time)"
        )
    print(
        f"Win-back     {won_back:,} customers ordered within {ATTRIBUTION_DAYS} days of a win-back email: "
        f"{format_money(revenue, 'JPY')} attributed"
    )
    print("             (last-touch attribution; what the emails caused is the lift, below)")
    print(line)
    print(
        f"Win-back lift (the generated customers answer each win-back email with an order with "
        f"probability {run.responses.uplift:.0%}; true lift on the emailed: {_pct(run.responses.truth.lift())})"
    )
    print(render_table(run.report).rstrip())
    print(
        f"SES cost     ${len(outbox) * SES_PRICE_PER_1000 / 1000:.2f} at list price for {len(outbox):,} emails"
    )
    dead = sum(stats.get("dead_letters", {}).values())
    print(f"Health       {dead} messages in dead-letter queues")
    if dead:
        print("             inspect them: GET /_local/dead-letters on a running `comeback local serve`")


def _last_day_sample(api: LocalApi, outbox: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One email of the last day with sends, the same one every run of a seed.

    The sender drains its queue concurrently, so which email of a day goes out last is the
    scheduler's choice: the sample is the lowest contact of the last day instead.
    """
    if not outbox:
        return []
    last_day = max(str(e["sent_at"])[:10] for e in outbox)
    count = sum(1 for e in outbox if str(e["sent_at"])[:10] == last_day)
    emails = api.control("GET", f"/_local/outbox?last={count}")
    return sorted(
        emails, key=lambda e: (e.get("contact_id") or "", e.get("campaign") or "", e.get("step") or 0)
    )[:1]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _show(email: dict[str, Any]) -> None:
    """The last email sent, as the inbox got it (headers that matter and the start of the text)."""
    print("-" * 72)
    print(f"An email of the last day ({email['campaign']} step {email['step']}, sent {email['sent_at']}):")
    for name in ("From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"):
        value = email["headers"].get(name, "")
        print(f"  {name}: {value[:90]}{'...' if len(value) > 90 else ''}")
    for line in email["text"].strip().splitlines()[:6]:
        print(f"  | {line}")


def _attribution(shop: DemoShop, outbox: list[dict[str, Any]]) -> tuple[int, int]:
    """Customers with an order in the 30 days after a win-back email, and those orders' value."""
    sent: dict[str, list[datetime]] = defaultdict(list)
    for email in outbox:
        if email["campaign"] == "winback" and email["sent_at"]:
            sent[email["contact_id"]].append(datetime.fromisoformat(email["sent_at"].replace("Z", "+00:00")))
    customers, revenue = set(), 0
    for event in shop.all_events():
        customer = event["customer"].get("id")
        if event["type"] != "order.placed" or customer not in sent:
            continue
        at = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        if any(s < at <= s + timedelta(days=ATTRIBUTION_DAYS) for s in sent[customer]):
            customers.add(customer)
            revenue += int(event["data"]["total"])
    return len(customers), revenue
