"""The sweep service on in-memory stores: what it asks for, issues and writes, in which order."""

from datetime import UTC, datetime, timedelta

from comeback.app.sweep import Sweep
from comeback.domain import playbook
from comeback.domain.clock import FixedClock, isoformat
from comeback.domain.profile import empty, lww
from tests.fakes.due_store import InMemoryDueStore
from tests.fakes.reward_store import InMemoryRewardStore

BOOK = playbook.load({"winback": {"holdout_percent": 0}})
LAST = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.sent: list = []
        self.log: list[str] = []

    def send(self, messages, delay_seconds=0):
        self.log.append("outbox")
        self.sent.extend(messages)

    def publish(self, entries):
        self.log.append("bus")
        self.sent.extend(entries)


def customer(n: int):
    profile = empty("s", f"c-{n}", f"c-{n}")
    profile.email = lww(f"c{n}@example.com", "2025-01-01T00:00:00.000000Z", "u")
    profile.consent = lww(True, "2025-01-01T00:00:00.000000Z", "u")
    profile.orders_count, profile.spent = 2, {"JPY": 9000}
    profile.last_activity_at = profile.last_order_at = isoformat(LAST)
    return profile


def sweep_for(store, days, outbox=None, bus=None, rewards=None):
    outbox, bus = outbox or Recorder(), bus or Recorder()
    clock = FixedClock(LAST + timedelta(days=days))
    service = Sweep(store, lambda shop: BOOK, outbox, rewards or InMemoryRewardStore(), bus, clock, shards=3)
    return service, outbox, bus


def test_every_due_contact_is_read_once_over_pages_and_shards_and_asked_once(monkeypatch):
    monkeypatch.setattr("comeback.app.sweep.PAGE", 4)
    store = InMemoryDueStore(3)
    for n in range(25):
        store.put(customer(n), BOOK)
    service, outbox, _ = sweep_for(store, 91)
    report = service.run()
    assert (report.due, report.items_read, report.messages) == (25, 25, 25)
    assert report.pages > report.shards == 3
    assert sorted(m.contact_id for m in outbox.sent) == sorted(f"c-{n}" for n in range(25))
    assert service.run().messages == 0  # the steps moved on: nothing is asked twice


def test_a_step_with_an_offer_issues_its_reward_before_the_message_carries_its_code():
    store, rewards = InMemoryDueStore(1), InMemoryRewardStore()
    store.put(customer(1), BOOK)
    service, outbox, bus = sweep_for(store, 136, rewards=rewards)
    report = service.run()
    (message,) = [m for m in outbox.sent if hasattr(m, "campaign")]
    (reward,) = rewards.for_contact("s", "c-1")
    assert (message.step, message.data["reward"]["code"], reward.type.value) == (
        2,
        reward.code,
        "free_shipping",
    )
    assert report.rewards_issued == 1 and outbox.log == ["outbox"] and bus.log == ["bus"]
    notices = [e.detail_type for e in bus.sent]
    assert "reward.issued" in notices and "contact.stage_changed" in notices
    assert store.profiles[("s", "c-1")].recipes["expiry"]["v"]["open"]  # the reminder will come


def test_a_contact_that_acted_between_read_and_write_stays_due_and_is_asked_again_later():
    store = InMemoryDueStore(1)
    store.put(customer(1), BOOK)

    class ActsMeanwhile(Recorder):
        def send(self, messages, delay_seconds=0):
            super().send(messages, delay_seconds)
            came_back = store.profiles[("s", "c-1")].model_copy(
                update={"last_activity_at": isoformat(LAST + timedelta(days=91))}
            )
            store.profiles[("s", "c-1")] = came_back

    service, _, _ = sweep_for(store, 91, outbox=ActsMeanwhile())
    report = service.run()
    assert (report.messages, report.advanced, report.contended) == (1, 0, 1)
    assert "winback" not in store.profiles[("s", "c-1")].recipes  # nothing written over the new activity


def test_a_unit_out_of_time_hands_its_cursor_to_its_continuation(monkeypatch):
    monkeypatch.setattr("comeback.app.sweep.PAGE", 2)
    store = InMemoryDueStore(1)
    for n in range(5):
        store.put(customer(n), BOOK)
    queued: list = []

    class Work:
        def send(self, bodies):
            queued.extend(bodies)

    service, outbox, _ = sweep_for(store, 91)
    service._work = Work()
    budget = iter([100, 100, 0])
    report = service.run_unit(
        {"shard": "DUE#000", "now": isoformat(LAST + timedelta(days=91))}, lambda: next(budget, 0)
    )
    assert (report.finished, report.continued, report.due) == (False, 1, 4)
    (unit,) = queued
    rest = service.run_unit(unit)
    assert rest.due == 1 and rest.finished and len(outbox.sent) == 5
