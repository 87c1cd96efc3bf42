"""What a campaign earned, measured against its holdout (`comeback report winback`).

Read from two kinds of records, both typed here and filled by a `CampaignRecords` store:
the message records of the campaign (one per contact, step and lapse: sent, or skipped with a
reason; `holdout` is the control group) and the contacts' orders.

- **Per step and variant** the unit is a message record. Treated: the records *sent*; holdout:
  the records *skipped: holdout* of the same step and variant. A record counts as reactivated
  when its contact ordered in the 30 days after the record was requested (the same clock for
  both groups: a holdout record has no send time). The variant of a holdout record is the one
  the contact would have got, so each variant is compared with its own randomised control: the
  variant follows the contact's feedback reason, and comparing a self-selected group with the
  whole holdout would measure the reason, not the email.
- **Per step, all variants** (when a step has several) and **all steps**: the unit of the last
  row is the lapse (contact and period). Treated: a lapse with at least one sent step; holdout: a
  lapse whose records are holdout skips (the holdout is drawn per lapse). Reactivated: an order
  between the lapse's first record and 30 days after its last.
- **Revenue** is what the reactivated contacts spent from their comeback order (included) to 90
  days after it, per currency in minor units; for both groups, so spend per contact compares.
- **Per timing** (win-back with `timing: {mode: predictive|compare}`, when any record carries
  one): each step and the all-steps row again per timing (`fixed`, `predictive`, `no_model`), each
  compared with the holdout of the same timing. The holdout is drawn independently of the timing
  arm, so each arm's holdout is a random part of that arm. These rows also carry the median days
  from the lapse's start (its period, the day of the last activity) to the step's request: who
  the predictive timing contacts sooner or later. Records without a timing (written before it was
  recorded) are in the other rows only.
- Records skipped for any other reason (unsubscribed, came back before the step ...) and
  messages not (yet) sent belong to neither group; they are counted by reason.

Lift is the treated rate minus the holdout rate, with Newcombe's 95% interval and the smallest
lift the group sizes could detect (`comeback.domain.stats`); a holdout under 1,000 is flagged.
"""

from __future__ import annotations

import bisect
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from comeback.domain.stats import Difference, minimal_detectable_difference, newcombe_difference

REACTIVATION_WINDOW = timedelta(days=30)
REVENUE_WINDOW = timedelta(days=90)
HOLDOUT_WARNING_BELOW = 1000
CONFIDENCE = 0.95
DEFAULT_VARIANT = "default"
HOLDOUT = "holdout"
SENT = "sent"
SKIPPED = "skipped"
# the timings' order in the report (win-back's `MessageRequest.timing`); another sorts after
TIMING_ORDER = {"fixed": 0, "predictive": 1, "no_model": 2}


@dataclass(frozen=True)
class MessageRecord:
    """One message record of a campaign (sent, skipped with a reason, failed ...)."""

    shop_id: str
    contact_id: str
    campaign: str
    step: int
    period: str
    status: str
    requested_at: datetime
    reason: str | None = None
    variant: str = DEFAULT_VARIANT
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    # how the lapse's step 1 was timed (win-back: fixed, predictive, no_model); None: not recorded
    timing: str | None = None

    @property
    def treated(self) -> bool:
        return self.status == SENT

    @property
    def holdout(self) -> bool:
        return self.status == SKIPPED and self.reason == HOLDOUT

    @property
    def lapse(self) -> tuple[str, str, str]:
        return self.shop_id, self.contact_id, self.period


@dataclass(frozen=True)
class Order:
    shop_id: str
    contact_id: str
    occurred_at: datetime
    total_minor: int
    currency: str


@dataclass(frozen=True)
class Records:
    messages: tuple[MessageRecord, ...] = ()
    orders: tuple[Order, ...] = ()
    # orders the store found but could not read (no amount kept, say): told, not guessed
    unreadable_orders: int = 0


class CampaignRecords(Protocol):
    """Where the report reads from: a campaign's message records and the contacts' orders.

    `shop_id` None means every shop; `since` keeps message records requested on or after that
    day (UTC), and may drop orders placed before it (no window starts before `since`).
    """

    def records(self, shop_id: str | None, campaign: str, since: date | None) -> Records: ...


@dataclass(frozen=True)
class Group:
    """A treated or holdout group: its size, how many reactivated, what they spent."""

    contacts: int = 0
    reactivated: int = 0
    revenue_minor: Mapping[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.reactivated / self.contacts if self.contacts else None


@dataclass(frozen=True)
class Row:
    """One line of the report. `step` None: all steps (per lapse); `variant` None: all variants."""

    step: int | None
    variant: str | None
    sent: int
    delivered: int
    opened: int
    clicked: int
    treated: Group
    holdout: Group
    lift: Difference
    detectable_lift: float | None
    # None: all timings; else only the records of that timing (see the module's docstring)
    timing: str | None = None
    # timing rows of a step: median days from the lapse's start (its period) to the request
    median_days_from_last_activity: float | None = None

    @property
    def small_holdout(self) -> bool:
        return self.holdout.contacts < HOLDOUT_WARNING_BELOW

    @property
    def label(self) -> str:
        step = "all steps" if self.step is None else f"step {self.step}"
        if self.timing is not None:
            step = f"{step} / {self.timing}"
        return step if self.variant is None else f"{step} ({self.variant})"


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    shop_id: str | None
    since: date | None
    as_of: datetime
    rows: tuple[Row, ...]
    # records in neither group, by status or skip reason
    excluded: Mapping[str, int]
    # records whose 30-day window had not closed at `as_of`: their reactivations may still come
    open_windows: int
    unreadable_orders: int

    @property
    def warnings(self) -> tuple[str, ...]:
        lines = [
            f"{row.label}: the holdout has {row.holdout.contacts:,} contacts (under "
            f"{HOLDOUT_WARNING_BELOW:,}): its interval is wide and the lift is not yet reliable"
            for row in self.rows
            if row.small_holdout
        ]
        if self.open_windows:
            lines.append(
                f"{self.open_windows:,} records were requested less than "
                f"{REACTIVATION_WINDOW.days} days before {self.as_of.date().isoformat()}: "
                "their reactivations may still come (both groups alike)"
            )
        if self.unreadable_orders:
            lines.append(f"{self.unreadable_orders:,} orders had no readable amount and are not counted")
        return tuple(lines)

    def to_dict(self) -> dict[str, Any]:
        """The same numbers as the table, as plain JSON values (rates as fractions)."""
        return {
            "campaign": self.campaign,
            "shop_id": self.shop_id,
            "since": self.since.isoformat() if self.since else None,
            "as_of": self.as_of.isoformat(),
            "confidence": CONFIDENCE,
            "reactivation_window_days": REACTIVATION_WINDOW.days,
            "revenue_window_days": REVENUE_WINDOW.days,
            "rows": [_row_dict(row) for row in self.rows],
            "excluded": dict(sorted(self.excluded.items())),
            "open_windows": self.open_windows,
            "unreadable_orders": self.unreadable_orders,
            "warnings": list(self.warnings),
        }


def _group_dict(group: Group) -> dict[str, Any]:
    return {
        "contacts": group.contacts,
        "reactivated": group.reactivated,
        "rate": group.rate,
        "revenue_minor": dict(sorted(group.revenue_minor.items())),
    }


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "step": row.step,
        "variant": row.variant,
        "sent": row.sent,
        "delivered": row.delivered,
        "opened": row.opened,
        "clicked": row.clicked,
        "treated": _group_dict(row.treated),
        "holdout": _group_dict(row.holdout),
        "lift": row.lift.estimate,
        "lift_low": row.lift.low if row.lift.estimate is not None else None,
        "lift_high": row.lift.high if row.lift.estimate is not None else None,
        "detectable_lift": row.detectable_lift,
        "holdout_under_minimum": row.small_holdout,
        "timing": row.timing,
        "median_days_from_last_activity": row.median_days_from_last_activity,
    }


class _Orders:
    """Each contact's orders in time order, for window look-ups."""

    def __init__(self, orders: Iterable[Order]) -> None:
        by_contact: dict[tuple[str, str], list[Order]] = defaultdict(list)
        for order in orders:
            by_contact[order.shop_id, order.contact_id].append(order)
        self._orders = {k: sorted(v, key=lambda o: o.occurred_at) for k, v in by_contact.items()}
        self._times = {k: [o.occurred_at for o in v] for k, v in self._orders.items()}

    def comeback(self, shop_id: str, contact_id: str, after: datetime, until: datetime) -> Order | None:
        """The first order strictly after `after` and at or before `until`."""
        times = self._times.get((shop_id, contact_id))
        if not times:
            return None
        i = bisect.bisect_right(times, after)
        if i < len(times) and times[i] <= until:
            return self._orders[shop_id, contact_id][i]
        return None

    def spent(self, shop_id: str, contact_id: str, start: Order) -> Counter[str]:
        """What the contact spent from its comeback order (included) to REVENUE_WINDOW after it."""
        times = self._times[shop_id, contact_id]
        orders = self._orders[shop_id, contact_id]
        first = bisect.bisect_left(times, start.occurred_at)
        last = bisect.bisect_right(times, start.occurred_at + REVENUE_WINDOW)
        spent: Counter[str] = Counter()
        for order in orders[first:last]:
            spent[order.currency] += order.total_minor
        return spent


def _group(members: Iterable[tuple[str, str, datetime, datetime]], orders: _Orders) -> Group:
    """A group from its members: (shop, contact, window start, window end)."""
    contacts = reactivated = 0
    revenue: Counter[str] = Counter()
    for shop_id, contact_id, start, end in members:
        contacts += 1
        order = orders.comeback(shop_id, contact_id, start, end)
        if order is not None:
            reactivated += 1
            revenue.update(orders.spent(shop_id, contact_id, order))
    return Group(contacts, reactivated, dict(revenue))


def _window(record: MessageRecord) -> tuple[str, str, datetime, datetime]:
    return (
        record.shop_id,
        record.contact_id,
        record.requested_at,
        record.requested_at + REACTIVATION_WINDOW,
    )


def _row(
    step: int | None,
    variant: str | None,
    sent: list[MessageRecord],
    treated: Group,
    holdout: Group,
    timing: str | None = None,
    median_days: float | None = None,
) -> Row:
    lift = newcombe_difference(
        treated.reactivated, treated.contacts, holdout.reactivated, holdout.contacts, CONFIDENCE
    )
    base = holdout.rate
    detectable = (
        None
        if base is None
        else minimal_detectable_difference(treated.contacts, holdout.contacts, base, 1 - CONFIDENCE)
    )
    return Row(
        step=step,
        variant=variant,
        sent=len(sent),
        delivered=sum(1 for r in sent if r.delivered_at is not None),
        opened=sum(1 for r in sent if r.opened_at is not None),
        clicked=sum(1 for r in sent if r.clicked_at is not None),
        treated=treated,
        holdout=holdout,
        lift=lift,
        detectable_lift=detectable,
        timing=timing,
        median_days_from_last_activity=median_days,
    )


def _step_rows(step: int, records: list[MessageRecord], orders: _Orders) -> list[Row]:
    by_variant: dict[str, list[MessageRecord]] = defaultdict(list)
    for record in records:
        by_variant[record.variant].append(record)
    rows = []
    for variant in sorted(by_variant, key=lambda v: (v != DEFAULT_VARIANT, v)):
        sent = [r for r in by_variant[variant] if r.treated]
        held = [r for r in by_variant[variant] if r.holdout]
        rows.append(
            _row(
                step,
                variant,
                sent,
                _group(map(_window, sent), orders),
                _group(map(_window, held), orders),
            )
        )
    if len(by_variant) > 1:
        sent = [r for r in records if r.treated]
        held = [r for r in records if r.holdout]
        rows.append(
            _row(step, None, sent, _group(map(_window, sent), orders), _group(map(_window, held), orders))
        )
    return rows


def _timings(records: Iterable[MessageRecord]) -> list[str]:
    found = {r.timing for r in records if r.timing is not None}
    return sorted(found, key=lambda t: (TIMING_ORDER.get(t, len(TIMING_ORDER)), t))


def _days_from_last_activity(record: MessageRecord) -> float | None:
    try:
        start = date.fromisoformat(record.period[:10])
    except ValueError:
        return None
    return (record.requested_at.date() - start).days


def _timing_rows(step: int, records: list[MessageRecord], orders: _Orders) -> list[Row]:
    rows = []
    for timing in _timings(records):
        own = [r for r in records if r.timing == timing]
        sent = [r for r in own if r.treated]
        held = [r for r in own if r.holdout]
        days = [d for r in (*sent, *held) if (d := _days_from_last_activity(r)) is not None]
        rows.append(
            _row(
                step,
                None,
                sent,
                _group(map(_window, sent), orders),
                _group(map(_window, held), orders),
                timing=timing,
                median_days=float(statistics.median(days)) if days else None,
            )
        )
    return rows


def _lapse_row(records: list[MessageRecord], orders: _Orders, timing: str | None = None) -> Row:
    lapses: dict[tuple[str, str, str], list[MessageRecord]] = defaultdict(list)
    for record in records:
        lapses[record.lapse].append(record)
    treated, held = [], []
    for (shop_id, contact_id, _), own in lapses.items():
        window = (
            shop_id,
            contact_id,
            min(r.requested_at for r in own),
            max(r.requested_at for r in own) + REACTIVATION_WINDOW,
        )
        any_sent = any(r.treated for r in own)
        any_held = any(r.holdout for r in own)
        # the holdout is drawn per lapse; a lapse with both would be a producer's bug: in neither
        if any_sent and not any_held:
            treated.append(window)
        elif any_held and not any_sent:
            held.append(window)
    sent = [r for r in records if r.treated]
    return _row(None, None, sent, _group(treated, orders), _group(held, orders), timing=timing)


def _excluded(record: MessageRecord) -> str | None:
    if record.treated or record.holdout:
        return None
    return f"skipped: {record.reason or 'no reason'}" if record.status == SKIPPED else record.status


def build_report(
    records: Records,
    *,
    campaign: str = "winback",
    shop_id: str | None = None,
    since: date | None = None,
    as_of: datetime,
) -> CampaignReport:
    """The report of `campaign` (one shop or all) over records requested on or after `since`."""
    messages = [
        r
        for r in records.messages
        if r.campaign == campaign
        and (shop_id is None or r.shop_id == shop_id)
        and (since is None or r.requested_at.date() >= since)
    ]
    orders = _Orders(o for o in records.orders if shop_id is None or o.shop_id == shop_id)
    by_step: dict[int, list[MessageRecord]] = defaultdict(list)
    for record in messages:
        by_step[record.step].append(record)
    rows = [
        row
        for step in sorted(by_step)
        for row in (*_step_rows(step, by_step[step], orders), *_timing_rows(step, by_step[step], orders))
    ]
    if messages:
        rows.append(_lapse_row(messages, orders))
    for timing in _timings(messages):
        rows.append(_lapse_row([r for r in messages if r.timing == timing], orders, timing))
    excluded = Counter(reason for r in messages if (reason := _excluded(r)) is not None)
    open_windows = sum(
        1 for r in messages if (r.treated or r.holdout) and r.requested_at + REACTIVATION_WINDOW > as_of
    )
    return CampaignReport(
        campaign=campaign,
        shop_id=shop_id,
        since=since,
        as_of=as_of,
        rows=tuple(rows),
        excluded=dict(excluded),
        open_windows=open_windows,
        unreadable_orders=records.unreadable_orders,
    )


def report_from_dict(document: dict[str, Any]) -> CampaignReport:
    """`CampaignReport.to_dict()` read back (the insight document carries reports as JSON)."""

    def group(g: dict[str, Any]) -> Group:
        return Group(g["contacts"], g["reactivated"], dict(g["revenue_minor"]))

    rows = tuple(
        Row(
            step=r["step"],
            variant=r["variant"],
            sent=r["sent"],
            delivered=r["delivered"],
            opened=r["opened"],
            clicked=r["clicked"],
            treated=group(r["treated"]),
            holdout=group(r["holdout"]),
            lift=Difference(
                r["lift"],
                r["lift_low"] if r["lift_low"] is not None else -1.0,
                r["lift_high"] if r["lift_high"] is not None else 1.0,
                document["confidence"],
            ),
            detectable_lift=r["detectable_lift"],
            timing=r.get("timing"),
            median_days_from_last_activity=r.get("median_days_from_last_activity"),
        )
        for r in document["rows"]
    )
    return CampaignReport(
        campaign=document["campaign"],
        shop_id=document["shop_id"],
        since=date.fromisoformat(document["since"]) if document["since"] else None,
        as_of=datetime.fromisoformat(document["as_of"]),
        rows=rows,
        excluded=dict(document["excluded"]),
        open_windows=document["open_windows"],
        unreadable_orders=document["unreadable_orders"],
    )
