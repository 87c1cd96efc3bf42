"""The scheduled sweep: who is due now, what their recipes decide, and the messages they ask for.

Every hour the schedule fans out one unit of work per shard of the due index (one invocation each
in AWS, through the `sweep` queue). A unit reads its shard page by page (`DueStore.page`): held
messages whose time has come go back on the outbox; each due contact is asked of every recipe due
(`recipes.engine.plan_due`). Then, for the whole page and in this order:

1. rewards the asks carry are issued in the ledger (keyed by recipe, step and period: asking again
   returns the same reward), and the ledger changes the recipes asked for (expire, remind);
2. all messages go to the outbox;
3. the recipes' notices (stage changes, rewards) go on the bus;
4. each contact's new states and due times are written, on condition that it did not act and no
   other writer moved those recipes since it was read (`DueStore.advance`).

A crash between 2 and 4, or two sweeps overlapping, asks for a message twice: the sender's key
(shop, contact, campaign, step, period) keeps it to one email. What comes before the write is
idempotent, so nothing is lost either: the contact stays due and is asked again.

A unit stops before its invocation runs out of time and queues its own continuation (the page
cursor), so a shard of any size is swept in pieces, never cut off.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from comeback.app.effects import carry_out
from comeback.app.observability import count, logger
from comeback.app.segments import is_segments_unit
from comeback.aws import keys
from comeback.aws.bus import BusEntry, Publisher
from comeback.aws.outbox import Outbox
from comeback.domain.clock import Clock, isoformat, parse_iso
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.products import ProductReader, Remembered
from comeback.domain.stores import DueContact, DueStore, HeldMessage, RewardLedger
from comeback.recipes import engine

if TYPE_CHECKING:
    from comeback.app.tasks import TaskDesk

PAGE = 100
# Stop a unit this long before the invocation's end: enough to finish the page and queue the rest.
RESERVE_SECONDS = 20


class WorkQueue(Protocol):
    def send(self, bodies: Sequence[dict[str, Any]]) -> None: ...


@dataclass
class SweepReport:
    shards: int = 0
    due: int = 0
    messages: int = 0
    advanced: int = 0
    released: int = 0  # held messages (caps, quiet hours) put back on the outbox
    contended: int = 0
    items_read: int = 0
    pages: int = 0
    rewards_issued: int = 0
    notices: int = 0
    campaigns: dict[str, int] = field(default_factory=dict)
    not_asked: dict[str, int] = field(default_factory=dict)
    finished: bool = True
    continued: int = 0  # units queued to carry on where this one stopped

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Sweep:
    def __init__(
        self,
        due: DueStore,
        playbooks: Callable[[str], Playbook],
        outbox: Outbox,
        rewards: RewardLedger,
        publisher: Publisher,
        clock: Clock,
        shards: int,
        work: WorkQueue | None = None,
        products: ProductReader | None = None,
        tasks: TaskDesk | None = None,
    ) -> None:
        self._due = due
        self._tasks = tasks
        self._playbooks = playbooks
        self._outbox = outbox
        self._rewards = rewards
        self._publisher = publisher
        self._clock = clock
        self._shards = shards
        self._work = work
        self._products = products  # the shops' product knowledge, for recipes that read it
        # told of every unit's report (the local runtime sums a fan-out's for POST /_local/sweep)
        self.observers: list[Callable[[SweepReport], None]] = []

    # -- entry points ------------------------------------------------------------------------
    def fan_out(self, shards: list[str] | None = None) -> dict[str, Any]:
        """The schedule's job: one unit of work per shard, all with the same `now`."""
        now = isoformat(self._clock.now())
        names = shards or keys.all_due_shards(self._shards)
        if self._work is None:
            raise RuntimeError("the sweep needs its work queue to fan out")
        self._work.send([{"shard": shard, "now": now, "cursor": None} for shard in names])
        logger.info("sweep fanned out", extra={"shards": len(names), "now": now})
        count("SweepRan")  # the heartbeat an alarm watches: no fan-out for two hours pages someone
        return {"units": len(names), "now": now}

    def run_unit(self, unit: dict[str, Any], time_left: Callable[[], float] | None = None) -> SweepReport:
        """One shard, from its cursor; queues its own continuation when time runs low."""
        now = parse_iso(unit["now"]) if unit.get("now") else self._clock.now()
        report = SweepReport(shards=1)
        cursor = self._sweep_shard(unit["shard"], now, unit.get("cursor"), report, time_left)
        if cursor is not None:
            if self._work is None:
                raise RuntimeError("the sweep needs its work queue to continue a shard")
            self._work.send([{"shard": unit["shard"], "now": isoformat(now), "cursor": cursor}])
            report.finished, report.continued = False, 1
            # hour after hour of these says the shards are too big for one invocation (an alarm)
            count("SweepShardsUnfinished")
        self._log(report)
        for observe in self.observers:
            observe(report)
        return report

    def run(
        self, shards: list[str] | None = None, time_left: Callable[[], float] | None = None
    ) -> SweepReport:
        """Every shard (or those named) in this process, until done or time runs low (tests, bench)."""
        now = self._clock.now()
        report = SweepReport()
        for shard in shards or keys.all_due_shards(self._shards):
            report.shards += 1
            if self._sweep_shard(shard, now, None, report, time_left) is not None:
                report.finished = False
                break
        self._log(report)
        return report

    def _log(self, report: SweepReport) -> None:
        logger.info("sweep finished", extra=report.as_dict())
        count("ContactsDue", report.due)
        count("MessagesRequested", report.messages)
        count("HeldMessagesReleased", report.released)
        count("RewardsIssued", report.rewards_issued)

    # -- one shard ---------------------------------------------------------------------------
    def _sweep_shard(
        self,
        shard: str,
        now: datetime,
        cursor: str | None,
        report: SweepReport,
        time_left: Callable[[], float] | None,
    ) -> str | None:
        """Sweep pages until the shard is done (None) or time runs low (the cursor to resume at)."""
        while True:
            if time_left is not None and time_left() < RESERVE_SECONDS:
                return cursor or ""  # "" resumes at the shard's start
            page = self._due.page(shard, now, cursor or None, PAGE)
            report.pages += 1
            report.items_read += page.items_read
            if page.held:
                self._release(page.held, report)
            self._handle(page.contacts, now, report)
            if page.cursor is None:
                return None
            cursor = page.cursor

    def _handle(self, contacts: list[DueContact], now: datetime, report: SweepReport) -> None:
        decided: list[tuple[DueContact, engine.Outcome]] = []
        messages: list[MessageRequest] = []
        entries: list[BusEntry] = []
        products = Remembered(self._products) if self._products is not None else None
        for due in contacts:
            report.due += 1
            profile = due.profile
            playbook = self._playbooks(profile.shop_id)
            outcome = engine.plan_due(profile, playbook, now, products)
            done = carry_out(outcome, playbook, now, self._rewards, self._tasks)
            messages.extend(done.messages)
            entries.extend(done.entries)
            report.rewards_issued += done.issued
            for message in done.messages:
                report.campaigns[message.campaign] = report.campaigns.get(message.campaign, 0) + 1
            for _recipe, reason in outcome.skipped:
                report.not_asked[reason] = report.not_asked.get(reason, 0) + 1
            decided.append((due, outcome))
        if messages:
            self._outbox.send(messages)  # first: a crash after this asks again, and the key dedupes
            report.messages += len(messages)
        if entries:
            self._publisher.publish(entries)
            report.notices += len(entries)
        for due, outcome in decided:
            if self._due.advance(due, outcome.profile, outcome.changed, outcome.notes):
                report.advanced += 1
            else:
                report.contended += 1

    def _release(self, held: list[HeldMessage], report: SweepReport) -> None:
        """Put held messages whose time has come back on the outbox: one per contact and sweep,
        the most important first (a reward before a win-back before a survey); the others wait
        for the next sweep, when the sender decides again on what the first one left."""
        by_contact: dict[tuple[str, str], list[HeldMessage]] = {}
        for item in held:
            by_contact.setdefault((item.request.shop_id, item.request.contact_id), []).append(item)
        first = [
            min(items, key=lambda i: (i.request.priority, isoformat(i.request.requested_at)))
            for items in by_contact.values()
        ]
        self._outbox.send([item.request for item in first])  # first: a crash after this sends again
        for item in first:
            self._due.release(item)
        report.released += len(first)


def combined(reports: Sequence[SweepReport]) -> SweepReport:
    """The sum of several units' reports (one invocation's, or a whole fan-out's)."""
    total = SweepReport(finished=all(r.finished for r in reports))
    for report in reports:
        for name, value in report.__dict__.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, dict):
                merged = getattr(total, name)
                for key, n in value.items():
                    merged[key] = merged.get(key, 0) + n
            else:
                setattr(total, name, getattr(total, name) + value)
    return total


def unit_of(body: str) -> dict[str, Any]:
    """A unit of work from its queue message (refuses anything else, so the DLQ shows the bad one)."""
    unit = json.loads(body)
    if not isinstance(unit, dict):
        raise ValueError("a unit of work is a JSON object")
    if not isinstance(unit.get("shard"), str) and not is_segments_unit(unit):  # the queue's other job
        raise ValueError("a sweep unit names its shard (a segments unit its shop)")
    return unit
