"""The daily segmentation job on moto, through its real entry points: the `segments` schedule's
fan-out from the sweep function, one unit per shop on the sweep queue, the cut points stored with
the shop, then seen by the contact view and by win-back qualifying by segment."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string, policy

from comeback.aws import keys
from comeback.aws.shops import ShopAdmin, ShopDirectory
from comeback.domain.clock import isoformat
from comeback.domain.views import contact_view
from tests.integration.test_contacts import apply_events
from tests.support import order, shop_event

PLAYBOOK = """
nps:
  enabled: false
winback:
  holdout_percent: 0
  qualify:
    one_time_min_spent_minor: 0
  segments: [at_risk, cant_lose]
"""


def buyers(engine, regulars: int = 4, once: int = 4, recent: int = 8) -> None:
    """Regulars (six orders) and one-time buyers who stopped at day 0; others who bought lately."""
    start = engine.clock.now()
    events = []

    def customer(cid: str, orders: int, day: float) -> None:
        who = {"id": cid, "email": f"{cid}@example.com"}
        profile = {"first_name": cid, "locale": "en", "accepts_marketing": True}
        stamp = isoformat(start)
        events.append(
            shop_event("customer.updated", id=f"u-{cid}", occurred_at=stamp, customer=who, data=profile)
        )
        for n in range(orders):
            at = start + timedelta(days=day - (orders - 1 - n) * 20)
            events.append(order(f"o-{cid}-{n}", isoformat(at), who, total="3000"))

    for i in range(regulars):
        customer(f"regular-{i}", 6, 0)
    for i in range(once):
        customer(f"once-{i}", 1, 0)
    for i in range(recent):
        customer(f"recent-{i}", 1 + i % 3, 60 + 3 * i)
    engine.clock.advance(timedelta(days=85))
    apply_events(engine, *events)


def run_segments(engine):
    fanned = engine.invoke("sweep", {"schedule": "segments"})
    answers = engine.deliver("sweep")
    return fanned, answers


def stored(engine):
    item = engine.ddb.get_item(
        TableName=engine.settings.table_name,
        Key={keys.PK: {"S": keys.shop("demo")}, keys.SK: {"S": keys.SEGMENTS}},
    ).get("Item")
    return item


def test_the_daily_job_ranks_each_shops_buyers_and_every_function_sees_it(engine):
    ShopAdmin(engine.settings).create("empty", "No buyers yet", engine.clock.now())
    buyers(engine)
    fanned, answers = run_segments(engine)
    assert fanned["job"] == "segments" and fanned["units"] == 2  # demo and empty
    assert all(a["batchItemFailures"] == [] for a in answers)
    assert stored(engine) is not None
    segmentation = ShopDirectory(engine.settings).playbook("demo").segmentation
    assert segmentation is not None and segmentation.buyers == 16
    assert ShopDirectory(engine.settings).playbook("empty").segmentation is None  # nobody to rank
    playbook = ShopDirectory(engine.settings).playbook("demo")
    regular = engine.runtime.contacts.find("demo", "regular-0")
    rfm = contact_view(regular, playbook, engine.clock.now())["rfm"]
    # a quarter of the buyers have six orders: the top fifth's cut is six, so ties share F 4
    assert segmentation.orders == [1, 1, 2, 6] and segmentation.recency_days == [13, 22, 85, 85]
    assert (rfm["recency"], rfm["frequency"], rfm["segment"]) == (1, 4, "at_risk"), rfm
    again = run_segments(engine)[0]
    assert (
        again["units"] == 2 and ShopDirectory(engine.settings).playbook("demo").segmentation == segmentation
    )


def test_win_back_by_segment_writes_to_lapsed_regulars_and_leaves_lapsed_one_timers_alone(engine):
    admin = ShopAdmin(engine.settings)
    config = admin.get("demo")
    assert config is not None
    admin.save_config(config.model_copy(update={"playbook_yaml": PLAYBOOK}))
    buyers(engine)
    run_segments(engine)
    engine.clock.advance(timedelta(days=6))  # day 91 of the regulars' and one-timers' lapse
    report = engine.sweep()
    assert report["campaigns"].get("winback") == 4, report
    assert report["not_asked"].get("not_in_segment") == 4, report
    engine.deliver("outbox")
    written = sorted(
        message_from_string(m.raw_data, policy=policy.default)["To"] for m in engine.sent_emails()
    )
    assert written == [f"regular-{i}@example.com" for i in range(4)]
    once = engine.runtime.contacts.find("demo", "once-0")
    state = once.recipes["winback"]["v"]
    assert (state["exit"], state["segment"]) == ("not_qualified", "lost")
