"""The engine's bus events: ids consumers can deduplicate on, and rewards that say what they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from comeback.app.topology import ENGINE_SOURCE, TOPOLOGY
from comeback.domain.notices import (
    NOTICE_TYPES,
    STAGES,
    RewardExpired,
    RewardIssued,
    RewardRedeemed,
    Stage,
    StageChanged,
    TaskCreated,
    reward_notice,
    stage_changed,
)

AT = datetime(2026, 4, 6, 3, 0, tzinfo=UTC)
REWARD: dict[str, Any] = {
    "shop_id": "demo",
    "contact_id": "c-42",
    "customer_id": "c-42",
    "code": "CB-7K2M-9QXD",
    "type": "amount_off",
    "value_minor": 1000,
    "currency": "JPY",
    "recipe": "winback",
    "step": 3,
    "issued_at": AT,
    "expires_at": AT + timedelta(days=30),
}


def test_the_stages_are_the_seven_of_the_lifecycle():
    assert Stage.__args__ == STAGES  # type: ignore[attr-defined]
    assert STAGES == ("new", "active", "engaged", "at_risk", "lapsed", "lost", "won_back")


def test_the_same_stage_change_has_the_same_id_whenever_it_is_published():
    first = stage_changed("demo", "c-42", "c-42", "at_risk", "lapsed", AT, "no activity for 90 days")
    again = stage_changed("demo", "c-42", "c-42", "at_risk", "lapsed", AT, "no activity for 90 days")
    assert first.id == again.id and first.id.startswith("contact.stage_changed:")
    # the offset an instant is written with does not make it another change
    tokyo = AT.astimezone(datetime.fromisoformat("2026-01-01T00:00:00+09:00").tzinfo)
    assert stage_changed("demo", "c-42", "c-42", "at_risk", "lapsed", tokyo, "x").id == first.id


@pytest.mark.parametrize(
    "change",
    [
        {"shop_id": "other"},
        {"contact_id": "c-43"},
        {"to_stage": "lost"},
        {"changed_at": AT + timedelta(seconds=1)},
    ],
)
def test_another_stage_change_has_another_id(change):
    base = {
        "shop_id": "demo",
        "contact_id": "c-42",
        "customer_id": "c-42",
        "from_stage": "at_risk",
        "to_stage": "lapsed",
        "changed_at": AT,
        "reason": "no activity for 90 days",
    }
    assert stage_changed(**{**base, **change}).id != stage_changed(**base).id


def test_the_detail_is_json_with_utc_times():
    detail = stage_changed("demo", "~ab12", None, None, "new", AT, "first seen").detail()
    assert detail["changed_at"] == "2026-04-06T03:00:00Z"
    assert detail["from_stage"] is None and detail["customer_id"] is None


def test_an_unknown_stage_or_an_empty_reason_is_refused():
    with pytest.raises(ValidationError):
        stage_changed("demo", "c-42", None, "active", "sleeping", AT, "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        stage_changed("demo", "c-42", None, "active", "at_risk", AT, "")


def test_a_reward_notice_is_the_model_of_its_kind_with_that_state():
    issued = reward_notice("reward.issued", **REWARD)
    redeemed = reward_notice("reward.redeemed", **REWARD, order_id="1087", redeemed_at=AT + timedelta(days=8))
    expired = reward_notice("reward.expired", **REWARD, expired_at=AT + timedelta(days=30))
    assert isinstance(issued, RewardIssued) and issued.state == "issued"
    assert isinstance(redeemed, RewardRedeemed) and redeemed.state == "redeemed"
    assert isinstance(expired, RewardExpired) and expired.state == "expired"
    others = {StageChanged.DETAIL_TYPE, TaskCreated.DETAIL_TYPE}
    assert {n.DETAIL_TYPE for n in (issued, redeemed, expired)} | others == set(NOTICE_TYPES)


def test_each_kind_of_reward_notice_has_its_own_stable_id():
    ids = {
        reward_notice("reward.issued", **REWARD).id,
        reward_notice("reward.redeemed", **REWARD, order_id="1", redeemed_at=AT).id,
        reward_notice("reward.expired", **REWARD, expired_at=AT).id,
    }
    assert len(ids) == 3
    assert reward_notice("reward.issued", **REWARD).id in ids
    assert reward_notice("reward.issued", **{**REWARD, "code": "CB-OTHER"}).id not in ids


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("reward.redeemed", {}),  # a redemption names its order and time
        ("reward.redeemed", {"order_id": "1087"}),
        ("reward.expired", {}),
        ("reward.issued", {"order_id": "1087", "redeemed_at": AT}),  # not an issue's fields
        ("reward.issued", {"expired_at": AT}),
    ],
)
def test_fields_that_do_not_belong_to_the_kind_are_refused(kind, extra):
    with pytest.raises(ValidationError):
        reward_notice(kind, **REWARD, **extra)


@pytest.mark.parametrize(
    "change",
    [
        {"type": "amount_off", "value_minor": None},
        {"type": "amount_off", "currency": None},
        {"type": "store_credit", "value_minor": None},
        {"type": "percent_off", "value_minor": None, "currency": None},  # no percent
        {"type": "percent_off", "percent": 0},
        {"currency": "jpy"},
        {"expires_at": AT - timedelta(seconds=1)},
        {"type": "bogo"},
    ],
)
def test_a_reward_that_does_not_say_what_it_is_worth_is_refused(change):
    with pytest.raises(ValidationError):
        reward_notice("reward.issued", **{**REWARD, **change})


def test_free_shipping_and_percent_off_need_no_amount():
    free = reward_notice("reward.issued", **{**REWARD, "type": "free_shipping", "value_minor": None})
    percent = reward_notice(
        "reward.issued",
        **{**REWARD, "type": "percent_off", "value_minor": None, "currency": None, "percent": 15},
    )
    assert free.value_minor is None and percent.percent == 15


def test_engine_events_go_to_no_queue_of_ours():
    routed = {source for rule in TOPOLOGY.rules for source in rule.pattern.get("source", [])}
    assert ENGINE_SOURCE == "comeback.engine" and ENGINE_SOURCE not in routed
