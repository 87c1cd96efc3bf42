"""Win-back offers through the real functions: a reward issued once with the step that carries it,
its code in the email, redeemed by a later order, reminded before it expires, then expired; each on
the bus for the shop's platform."""

import json
from datetime import timedelta

import pytest

from comeback.domain.rewards import RewardState
from tests.integration.test_contacts import apply_events
from tests.integration.test_privacy import shops, stack  # noqa: F401 - fixtures
from tests.integration.test_sweep_and_send import lapsed_customer, sweep
from tests.support import order

HANAKO = {"id": "c-1", "email": "hanako@example.com"}
TARO = {"id": "c-2", "email": "taro@example.com"}


def engine_notices(engine):
    return [b for b in engine.bus_bodies() if b["source"] == "comeback.engine"]


def rewards_issued_redeemed_reminded_and_expired(engine):
    """The scenario (also replayed by tests/infra/test_iam_from_calls.py for the roles it needs)."""
    lapsed_customer(engine, customer=HANAKO)
    lapsed_customer(engine, customer=TARO)
    engine.clock.advance(timedelta(days=136))  # step 2 (free shipping) is the latest step due
    report = sweep(engine)
    engine.deliver("outbox")
    hanako = engine.runtime.rewards.for_contact("demo", "c-1")
    taro = engine.runtime.rewards.for_contact("demo", "c-2")
    # Hanako comes back with her code, typed in lower case
    code = hanako[0].code
    apply_events(
        engine, order("o-back", engine.clock.now().isoformat(), HANAKO, discount_codes=[code.lower()])
    )
    engine.clock.advance(timedelta(days=24))  # 7 days before Taro's reward expires
    reminded = sweep(engine)
    engine.deliver("outbox")
    engine.clock.advance(timedelta(days=7))
    expired = sweep(engine)
    engine.deliver("outbox")
    return report, reminded, expired, hanako, taro


def test_a_step_with_an_offer_issues_one_reward_whose_code_the_email_shows(engine):
    report, _, _, hanako, taro = rewards_issued_redeemed_reminded_and_expired(engine)
    assert report["rewards_issued"] == 2 and report["campaigns"] == {"winback": 2}
    assert [(r.type.value, r.step, r.recipe) for r in hanako] == [("free_shipping", 2, "winback")]
    assert hanako[0].expires_at - hanako[0].issued_at == timedelta(days=30)
    mails: dict[str, str] = {}
    for m in engine.sent_emails():  # each one's first email: the step 2 (Hanako's order later brings NPS)
        mails.setdefault(m.destinations[0], m.raw_data)
    assert hanako[0].code in mails["hanako@example.com"] and taro[0].code in mails["taro@example.com"]
    assert hanako[0].code != taro[0].code


def test_the_code_on_a_later_order_redeems_the_reward_once_and_says_so_on_the_bus(engine):
    rewards_issued_redeemed_reminded_and_expired(engine)
    (reward,) = engine.runtime.rewards.for_contact("demo", "c-1")
    assert (reward.state, reward.order_id) == (RewardState.REDEEMED, "o-back")
    kinds = [(n["detail-type"], n["detail"]["contact_id"]) for n in engine_notices(engine)]
    assert kinds.count(("reward.redeemed", "c-1")) == 1 and ("reward.expired", "c-1") not in kinds


def test_an_unused_reward_is_reminded_before_it_expires_then_expires(engine):
    _, reminded, expired, _, _ = rewards_issued_redeemed_reminded_and_expired(engine)
    # (and NPS asks Hanako, back with a second order 14 days before)
    assert reminded["campaigns"] == {"expiry": 1, "nps": 1}
    expiry_mails = [m for m in engine.sent_emails() if "taro@example.com" in m.destinations]
    assert len(expiry_mails) == 2  # the step-2 email, then the reminder (not another one at expiry)
    (reward,) = engine.runtime.rewards.for_contact("demo", "c-2")
    assert reward.state is RewardState.EXPIRED and reward.reminded_at is not None
    kinds = [(n["detail-type"], n["detail"]["contact_id"]) for n in engine_notices(engine)]
    assert ("reward.issued", "c-2") in kinds and kinds.count(("reward.expired", "c-2")) == 1
    assert expired["rewards_issued"] == 0  # asking again never issues a second reward


def test_the_contact_view_lists_the_rewards_and_each_recipes_state(engine):
    rewards_issued_redeemed_reminded_and_expired(engine)
    from comeback.domain.views import contact_view

    profile = engine.runtime.contacts.get("demo", "c-2")
    view = contact_view(
        profile,
        engine.runtime.shops.playbook("demo"),
        engine.clock.now(),
        engine.runtime.rewards.for_contact("demo", "c-2"),
    )
    (reward,) = view["rewards"]
    assert (reward["type"], reward["state"], reward["recipe"]) == ("free_shipping", "expired", "winback")
    assert view["recipes"]["winback"]["state"]["sent"] == 2
    assert view["recipes"]["winback"]["next_due_at"].startswith("2026-07-04")  # step 3 at 180 days


@pytest.mark.usefixtures("stack")  # the CLI finds the table through a deployed stack's outputs
def test_comeback_contacts_show_prints_the_stage_the_recipes_and_the_rewards(engine, capsys):
    from comeback.cli.main import main

    rewards_issued_redeemed_reminded_and_expired(engine)
    assert (
        main(["contacts", "show", "demo", "taro@example.com", "--stack", "comeback", "--format", "json"]) == 0
    )
    view = json.loads(capsys.readouterr().out)
    assert view["contact_id"] == "c-2" and view["stage"] == "lapsed"
    assert [(r["type"], r["state"]) for r in view["rewards"]] == [("free_shipping", "expired")]
    assert (
        view["recipes"]["winback"]["state"]["sent"] == 2 and view["recipes"]["expiry"]["state"]["open"] == {}
    )
    # without --format, the table a person reads: the same contact, its email masked
    assert main(["contacts", "show", "demo", "taro@example.com", "--stack", "comeback"]) == 0
    table = capsys.readouterr().out
    assert "  contact     c-2\n" in table and "  stage       lapsed\n" in table
    assert "taro@example.com" not in table and "<redacted-email>" in table
    assert [line.split()[1:4] for line in table.split("rewards\n", 1)[1].splitlines()[1:2]] == [
        ["free_shipping", "free", "shipping"]
    ]
    assert main(["contacts", "show", "demo", "nobody", "--stack", "comeback"]) == 2
    assert "no contact 'nobody'" in capsys.readouterr().err
