"""The sweep on moto under interleavings, paging, shards and time limits.

The property drives a few contacts through a drawn schedule of clock moves, shop events (through
the contacts service), sweeps (plain, two overlapping, one crashing between the outbox and the
write) and redeliveries of outbox messages and contacts events, then drains: advance to the next
due time and sweep, until nothing is due. What it proves is in `test_any_interleaving_...`'s
docstring. The examples below it pin paging over shards, a unit that stops before its time runs out
and resumes from the queue, and the due time moving in the one write of a new order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.app import sweep as sweeps
from comeback.app.sweep import RESERVE_SECONDS, Sweep
from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.due_store import DynamoDueStore
from comeback.aws.mailer import Email, SesMailer, from_tag_value
from comeback.aws.work_queue import SqsWorkQueue
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import parse_event
from comeback.domain.messages import MessageRequest
from comeback.domain.profile import Profile
from comeback.domain.stores import DueContact, DuePage
from comeback.recipes.base import Note, in_holdout
from tests.integration.conftest import START, Engine, running_engine
from tests.integration.test_contacts import bus
from tests.support import order, shop_event

STEP_DAYS = (90, 135, 180, 270)  # the shipped playbook's win-back steps
HORIZON = timedelta(days=400)  # past the last step and its sunset
SUNSET_DAYS = STEP_DAYS[-1] + 30
HOLDOUT_PERCENT = 10

Who = tuple[str, str]  # (shop, contact)
Key = tuple[str, str, str]  # (shop, contact, message key)


class Crash(Exception):
    """The sweep's invocation died here: nothing after this point ran."""


# -- wrappers that count, pause and crash ---------------------------------------------------------


class CountingMailer:
    """SES as the sender sees it, counting the emails sent per message key (from their SES tags)."""

    def __init__(self, inner: SesMailer) -> None:
        self.inner = inner
        self.sent: Counter[Key] = Counter()

    def send(self, email: Email) -> str:
        answer = self.inner.send(email)
        tags = email.tags
        key = f"{tags['campaign']}#{tags['step']}#{from_tag_value(tags['period'])}"
        self.sent[(tags["shop"], from_tag_value(tags["contact"]), key)] += 1
        return answer


class CountingOutbox:
    """The outbox, counting the asks per message key."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.asked: Counter[Key] = Counter()
        self.requests: list[MessageRequest] = []

    def send(self, messages: Sequence[MessageRequest], delay_seconds: int = 0) -> None:
        for m in messages:
            self.asked[(m.shop_id, m.contact_id, m.key)] += 1
            self.requests.append(m)
        self.inner.send(messages, delay_seconds)


@dataclass
class Read:
    who: Who
    now: datetime
    basis: str | None


@dataclass
class Watched:
    """The due store as a sweep uses it, recording what it read and what it wrote (or lost).

    `defer` keeps every write back until `flush` (a sweep that planned, then paused while another
    ran); `crash` makes the first write raise (the invocation died after the outbox send)."""

    inner: DynamoDueStore
    defer: bool = False
    crash: bool = False
    reads: list[Read] = field(default_factory=list)
    released: Counter[Key] = field(default_factory=Counter)
    won: Counter[Who] = field(default_factory=Counter)
    lost: Counter[Who] = field(default_factory=Counter)  # read, then not written (lost or crashed)
    pending: list[tuple[DueContact, Profile, Sequence[str], Sequence[Note]]] = field(default_factory=list)
    _page: list[DueContact] = field(default_factory=list)

    def page(self, shard: str, now: datetime, cursor: str | None, limit: int) -> DuePage:
        page = self.inner.page(shard, now, cursor, limit)
        for due in page.contacts:
            p = due.profile
            self.reads.append(Read((p.shop_id, p.contact_id), now, p.last_activity_at))
        for held in page.held:
            r = held.request
            self.released[(r.shop_id, r.contact_id, r.key)] += 1
        self._page = page.contacts
        return page

    def advance(self, due: DueContact, after: Profile, changed: Sequence[str], notes: Sequence[Note]) -> bool:
        if self.crash:
            for unwritten in self._page:  # the page's asks went out, none of its writes
                self.lost[(unwritten.profile.shop_id, unwritten.profile.contact_id)] += 1
            raise Crash("between the outbox send and the write")
        if self.defer:
            self.pending.append((due, after, changed, notes))
            return True
        return self._write(due, after, changed, notes)

    def flush(self) -> None:
        pending, self.pending, self.defer = self.pending, [], False
        for args in pending:
            self._write(*args)

    def _write(self, due: DueContact, after: Profile, changed: Sequence[str], notes: Sequence[Note]) -> bool:
        who = (due.profile.shop_id, due.profile.contact_id)
        done = self.inner.advance(due, after, changed, notes)
        (self.won if done else self.lost)[who] += 1
        return done

    def release(self, held: Any) -> bool:
        return self.inner.release(held)


class World:
    """One engine on moto, the counting wrappers installed, and sweeps built on demand."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        runtime = engine.runtime
        assert "sender" not in runtime.__dict__ and "sweep" not in runtime.__dict__
        self.mailer = CountingMailer(
            SesMailer(runtime.client("sesv2"), engine.settings.ses_configuration_set)
        )
        runtime.mailer_override = self.mailer
        self.outbox = CountingOutbox(runtime.outbox)
        runtime.__dict__["outbox"] = self.outbox  # what the runtime's sweep (the handler's) asks through
        self.stores: list[Watched] = []
        self.applied: list[dict[str, Any]] = []

    def store(self, defer: bool = False, crash: bool = False) -> Watched:
        inner = DynamoDueStore(self.engine.ddb, self.engine.settings.table_name)
        watched = Watched(inner, defer=defer, crash=crash)
        self.stores.append(watched)
        return watched

    def sweep_with(self, store: Watched) -> Sweep:
        rt = self.engine.runtime
        return Sweep(
            store, rt.shops.playbook, self.outbox, rt.rewards, rt.publisher, self.engine.clock,
            self.engine.settings.due_shards,
        )  # fmt: skip

    # -- the operations ------------------------------------------------------------------------
    def event(self, raw: dict[str, Any]) -> None:
        """A shop event through the contacts function, as its queue delivers it."""
        self.applied.append(raw)
        self.redeliver_event(raw)

    def redeliver_event(self, raw: dict[str, Any]) -> None:
        self.engine.send_to("contacts", bus(self.engine, raw))
        answers = self.engine.deliver("contacts")
        assert [a.get("batchItemFailures") for a in answers] == [[]]

    def sweep(self) -> None:
        self.sweep_with(self.store()).run()
        self.engine.deliver("outbox")

    def overlapping_sweeps(self) -> None:
        """A plans and asks, pauses before its writes; B runs whole; then A writes (and loses)."""
        first = self.store(defer=True)
        self.sweep_with(first).run()
        self.sweep_with(self.store()).run()
        first.flush()
        self.engine.deliver("outbox")

    def crashing_sweep(self) -> None:
        """Dies at its first write (one that found nobody due writes nothing, and finishes)."""
        store = self.store(crash=True)
        try:
            self.sweep_with(store).run()
        except Crash:
            assert store.reads
        else:
            assert not store.reads
        self.engine.deliver("outbox")  # what it asked for is on the queue all the same

    def redeliver_outbox(self, index: int) -> None:
        if self.outbox.requests:
            request = self.outbox.requests[index % len(self.outbox.requests)]
            self.engine.send_to("outbox", [request.model_dump_json()])
            self.engine.deliver("outbox")

    def drain(self, rounds: int = 40) -> None:
        """Advance to the earliest due time and sweep, until no contact is due any more within
        HORIZON of the last event (the drip's steps and sunset; a yearly anniversary is due for ever)."""
        last = max((parse_iso(raw["occurred_at"]) for raw in self.applied), default=self.engine.clock.now())
        horizon = isoformat(last + HORIZON)
        for _ in range(rounds):
            dues = [d for p in self.profiles() if p.dues and (d := min(p.dues.values())) <= horizon]
            if not dues:
                return
            earliest = parse_iso(min(dues))
            if earliest > self.engine.clock.now():
                self.engine.clock.set(earliest)
            self.sweep()
        raise AssertionError("contacts still due after the drain")

    # -- what happened -------------------------------------------------------------------------
    def profiles(self) -> list[Profile]:
        return [p for c in CUSTOMERS if (p := self.engine.runtime.contacts.get("demo", c["id"])) is not None]

    def reads(self) -> list[Read]:
        return [r for s in self.stores for r in s.reads]

    def lost(self) -> Counter[Who]:
        return sum((s.lost for s in self.stores), Counter())

    def released(self) -> Counter[Key]:
        return sum((s.released for s in self.stores), Counter())


CUSTOMERS = [{"id": f"c-{i}", "email": f"customer{i}@example.com"} for i in range(3)]


def lapse_windows(basis: str) -> list[tuple[int, datetime, datetime]]:
    """(step, from, until): a sweep reading the lapse in [from, until) asks for that step (the latest due)."""
    start = parse_iso(basis)
    edges = [*STEP_DAYS, SUNSET_DAYS]
    return [(i + 1, start + timedelta(days=edges[i]), start + timedelta(days=edges[i + 1])) for i in range(4)]


# -- 1. the property over interleavings -----------------------------------------------------------

operations = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 60)),
    st.tuples(st.just("order"), st.integers(0, len(CUSTOMERS) - 1)),
    st.tuples(st.just("view"), st.integers(0, len(CUSTOMERS) - 1)),
    st.tuples(st.just("sweep"), st.just(0)),
    st.tuples(st.just("overlap"), st.just(0)),
    st.tuples(st.just("crash"), st.just(0)),
    st.tuples(st.just("redeliver_outbox"), st.integers(0, 1000)),
    st.tuples(st.just("redeliver_event"), st.integers(0, 1000)),
)


def play(engine: Engine, schedule: list[tuple[str, int]]) -> World:
    world = World(engine)
    for customer in CUSTOMERS:
        consent = shop_event(
            "customer.updated", id=f"u-{customer['id']}", occurred_at="2026-01-01T00:00:00Z",
            customer=customer, data={"first_name": "Hanako", "locale": "ja", "accepts_marketing": True},
        )  # fmt: skip
        world.event(consent)
        world.event(order(f"o-{customer['id']}-0", isoformat(engine.clock.now()), customer))
    for n, (name, arg) in enumerate(schedule):
        now = isoformat(engine.clock.now())
        if name == "advance":
            engine.clock.advance(timedelta(days=arg))
        elif name == "order":
            world.event(order(f"o-{n}", now, CUSTOMERS[arg]))
        elif name == "view":
            world.event(shop_event("product.viewed", id=f"v-{n}", occurred_at=now, customer=CUSTOMERS[arg]))
        elif name == "sweep":
            world.sweep()
        elif name == "overlap":
            world.overlapping_sweeps()
        elif name == "crash":
            world.crashing_sweep()
        elif name == "redeliver_outbox":
            world.redeliver_outbox(arg)
        else:
            world.redeliver_event(world.applied[arg % len(world.applied)])
    world.drain()
    return world


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(operations, min_size=4, max_size=10))
def test_any_interleaving_emails_each_key_once_and_loses_no_step(schedule):
    """Drawn schedules of clock moves, orders and views (contacts function), sweeps, two sweeps
    overlapping (A plans and asks, B runs whole, A writes late), a sweep crashing between the
    outbox send and its write, redelivered outbox messages and contacts events; then a drain.

    - SES: every message key (contact, campaign, step, period) is emailed at most once.
    - Asks: a key is asked at most 1 + L times, L = the times its contact was read by a sweep and
      not written back (a lost conditional write or a crash): only a write that wins moves a step
      on, and it is conditioned on the state as read, so a second ask needs a read that lost.
      Without losses (L = 0) every key is asked at most once.
    - Liveness: for each contact's last lapse, the win-back steps emailed are exactly those whose
      window [step due, next step due) a sweep read the lapse in (the engine takes only the latest
      due step, so a window no sweep visited is skipped on purpose); the drain visits every window
      left, so the last step is always emailed. A holdout lapse is emailed nothing.
    """
    with running_engine() as engine:
        world = play(engine, schedule)
        sent, asked, lost, released = world.mailer.sent, world.outbox.asked, world.lost(), world.released()
        assert all(n == 1 for n in sent.values()), sent
        for key, n in asked.items():
            assert n - released[key] <= 1 + lost[key[:2]], (key, n, lost)
        for profile in world.profiles():
            basis = profile.last_activity_at
            assert basis is not None
            period = basis[:10]
            who = (profile.shop_id, profile.contact_id)
            emailed = {
                int(k.split("#")[1])
                for (shop, contact, k), _ in sent.items()
                if (shop, contact) == who and k.startswith("winback#") and k.endswith(f"#{period}")
            }
            if in_holdout(*who, period, "winback", HOLDOUT_PERCENT):
                assert emailed == set()
                continue
            visited = {
                step
                for step, since, until in lapse_windows(basis)
                for r in world.reads()
                if r.who == who and r.basis == basis and since <= r.now < until
            }
            assert emailed == visited and 4 in emailed, (who, emailed, visited)


# -- 2. paging over shards ------------------------------------------------------------------------


def due_contacts(engine: Engine, n: int) -> list[str]:
    """n contacts whose last order was 91 days ago (step 1 due), applied through the contacts service."""
    at = isoformat(engine.clock.now())
    ids = [f"p-{i}" for i in range(n)]
    for cid in ids:
        engine.runtime.events.apply(
            "demo", parse_event(order(f"o-{cid}", at, {"id": cid, "email": f"{cid}@example.com"}))
        )
    engine.clock.advance(timedelta(days=91))
    return ids


def test_one_sweep_reads_every_due_contact_once_over_many_pages_per_shard(engine, monkeypatch):
    monkeypatch.setattr(sweeps, "PAGE", 7)
    ids = due_contacts(engine, 250)
    world = World(engine)
    store = world.store()
    report = world.sweep_with(store).run()
    per_shard = Counter(keys.due_shard("demo", cid, engine.settings.due_shards) for cid in ids)
    assert report.finished and report.due == 250 and report.items_read == 250
    assert Counter(r.who for r in store.reads) == Counter(("demo", cid) for cid in ids)
    # every shard took several pages (ceil(n / 7), plus the empty answer that closes a full last page)
    assert report.pages >= sum(-(-n // 7) for n in per_shard.values()) and min(per_shard.values()) > 7
    assert report.advanced == 250 and report.contended == 0
    assert world.sweep_with(world.store()).run().due == 0  # each moved on to step 2


# -- 3. a unit stops before its time runs out, and resumes from the queue -------------------------


def test_a_unit_short_of_time_queues_its_continuation_and_the_queue_finishes_the_shard(engine, monkeypatch):
    monkeypatch.setattr(sweeps, "PAGE", 5)
    ids = due_contacts(engine, 60)
    world = World(engine)
    shard = keys.all_due_shards(engine.settings.due_shards)[0]
    in_shard = [cid for cid in ids if keys.due_shard("demo", cid, engine.settings.due_shards) == shard]
    assert len(in_shard) > 10  # more than two pages
    clock = iter([60.0, 60.0])  # two pages' worth of time, then below the reserve

    def time_left() -> float:
        return next(clock, RESERVE_SECONDS - 1.0)

    store = world.store()
    rt = engine.runtime
    work = SqsWorkQueue(rt.client("sqs"), engine.settings.queue_url("sweep"))
    sweep = Sweep(store, rt.shops.playbook, world.outbox, rt.rewards, rt.publisher, engine.clock, 4, work)
    rt.__dict__["sweep"] = sweep  # the handler's, reading through the watched store
    unit = {"shard": shard, "now": isoformat(engine.clock.now()), "cursor": None}
    first = sweep.run_unit(unit, time_left)
    assert (first.pages, first.due, first.finished, first.continued) == (2, 10, False, 1)
    (queued,) = engine.receive("sweep")
    continuation = sweeps.unit_of(queued["Body"])
    assert continuation["shard"] == shard and continuation["now"] == unit["now"] and continuation["cursor"]
    engine.send_to("sweep", [queued["Body"]])  # what the queue would deliver once the unit ended
    engine.sqs.delete_message(
        QueueUrl=engine.resources.queue_urls["sweep"], ReceiptHandle=queued["ReceiptHandle"]
    )
    answers = engine.deliver("sweep")
    assert [a["batchItemFailures"] for a in answers] == [[]]
    rest = answers[0]["sweep"]
    assert rest["finished"] and rest["continued"] == 0 and first.due + rest["due"] == len(in_shard)
    assert Counter(contact for _, contact in (r.who for r in store.reads)) == Counter(in_shard)
    # every contact of the shard asked once: step 1 taken (no consent: recorded, not queued)
    assert {engine.runtime.contacts.get("demo", c).recipes["winback"]["v"]["sent"] for c in in_shard} == {1}
    assert engine.queue_size("sweep") == 0


# -- 4. a new order moves the due time, in the one write of the event -----------------------------


class Counting:
    """A DynamoDB client that records the operations it is asked for."""

    def __init__(self, client: Any) -> None:
        self._client, self.exceptions = client, client.exceptions
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            return method(**kwargs)

        return call


def _profile_key(contact: str) -> dict[str, Any]:
    return {keys.PK: {"S": keys.contact("demo", contact)}, keys.SK: {"S": keys.PROFILE}}


WRITES = {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}


def consenting(world: World, customer: dict[str, str]) -> None:
    world.event(
        shop_event(
            "customer.updated", id=f"u-{customer['id']}", occurred_at="2026-01-01T00:00:00Z",
            customer=customer, data={"first_name": "Hanako", "locale": "ja", "accepts_marketing": True},
        )
    )  # fmt: skip


def counting_contacts(engine: Engine) -> Counting:
    """The contacts function's store on a client that counts its calls (from its next event on)."""
    client = Counting(engine.ddb)
    runtime = engine.runtime
    runtime.__dict__["contacts"] = ContactStore(
        client, engine.settings.table_name, engine.settings.due_shards
    )
    runtime.__dict__.pop("events", None)  # rebuilt on the counting store
    return client


def due_at(engine: Engine, contact: str) -> str:
    item = engine.ddb.get_item(TableName=engine.settings.table_name, Key=_profile_key(contact))["Item"]
    return str(item[keys.DUE_AT]["S"])


def test_a_new_order_moves_the_due_time_to_its_own_steps_in_one_read_and_one_write_request(engine):
    # loyalty (on in the shipped playbook) keeps the order in its ledger: it reads the profile first;
    # without loyalty the same order takes the one-write fast path (tests/unit/test_engine.py)
    world = World(engine)
    hanako = {"id": "c-42", "email": "hanako@example.com"}
    consenting(world, hanako)
    world.event(order("o-1", isoformat(START), hanako))
    assert engine.runtime.contacts.get("demo", "c-42").dues["winback"] == isoformat(
        START + timedelta(days=90)
    )
    at = START + timedelta(days=40)  # still active: the usual event
    engine.clock.set(at)
    client = counting_contacts(engine)
    world.event(order("o-2", isoformat(at), hanako))

    assert client.calls == ["get_item", "transact_write_items"]  # one read, one write request
    after = engine.runtime.contacts.get("demo", "c-42")
    assert after.dues["winback"] == isoformat(at + timedelta(days=90))
    assert after.dues["lifecycle"] == isoformat(at + timedelta(days=60))  # at risk, the earliest
    assert due_at(engine, "c-42") == min(after.dues.values())
    # the index agrees: no step 1 at the first order's lapse (the contact is read once then, for the
    # second order's points, confirmed 14 days after it); the new lapse's step comes at its time
    engine.clock.set(START + timedelta(days=91))
    store = world.store()
    world.sweep_with(store).run()
    assert len(store.reads) == 1 and world.mailer.sent == Counter()
    engine.clock.set(at + timedelta(days=90))
    world.sweep()
    assert world.mailer.sent == Counter({("demo", "c-42", f"winback#1#{isoformat(at)[:10]}"): 1})


def test_an_order_after_a_winback_step_moves_the_due_time_in_one_read_and_one_write_request(engine):
    """A lapsed contact ordering again changes its stage (recorded and announced) and adds an order
    to its loyalty ledger: the profile is read, and written once."""
    world = World(engine)
    hanako = {"id": "c-42", "email": "hanako@example.com"}
    consenting(world, hanako)
    world.event(order("o-1", isoformat(START), hanako))
    engine.clock.set(START + timedelta(days=91))
    world.sweep()  # step 1 taken: win-back waits for step 2, at 135 days
    assert engine.runtime.contacts.get("demo", "c-42").dues["winback"] == isoformat(
        START + timedelta(days=135)
    )
    at = START + timedelta(days=94)
    engine.clock.set(at)
    client = counting_contacts(engine)
    world.event(order("o-2", isoformat(at), hanako))

    assert client.calls == ["get_item", "transact_write_items"]
    after = engine.runtime.contacts.get("demo", "c-42")
    assert after.dues["winback"] == isoformat(at + timedelta(days=90))
    assert due_at(engine, "c-42") == min(after.dues.values())
    engine.clock.set(START + timedelta(days=136))
    world.sweep()
    assert world.outbox.asked[("demo", "c-42", "winback#2#2026-01-05")] == 0
