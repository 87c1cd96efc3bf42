"""The reward ledger's domain: offers, requests, codes and the transitions every store applies."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from comeback.domain.rewards import (
    CODE_ALPHABET,
    InvalidCode,
    Offer,
    PoolEmpty,
    Reward,
    RewardRequest,
    RewardState,
    RewardType,
    codes_on_order,
    new_code,
    normalise_code,
    pool_codes,
)
from tests.fakes.reward_store import InMemoryRewardStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def request(**changes: Any) -> RewardRequest:
    fields: dict[str, Any] = {
        "shop_id": "acme",
        "contact_id": "c-1",
        "recipe": "winback",
        "step": 3,
        "period": "2025-12-01",
        "offer": Offer(type="amount_off", value_minor=1000),
        "currency": "JPY",
        "issued_at": T0,
        **changes,
    }
    return RewardRequest(**fields)


# -- offers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "offer",
    [
        {"type": "free_shipping"},
        {"type": "amount_off", "value_minor": 500},
        {"type": "store_credit", "value_minor": 2000, "valid_days": 365},
        {"type": "percent_off", "percent": 100, "valid_days": 1},
        {"type": "gift", "gift": "Tasting set"},
        {"type": "gift"},
        {"type": "percent_off", "percent": 10, "pool": "spring-2026"},
    ],
)
def test_offers_whose_worth_fits_their_type_are_valid(offer: dict[str, Any]) -> None:
    assert Offer.model_validate(offer).type == offer["type"]


@pytest.mark.parametrize(
    ("offer", "complaint"),
    [
        ({"type": "amount_off"}, "needs value_minor"),
        ({"type": "store_credit"}, "needs value_minor"),
        ({"type": "amount_off", "value_minor": 0}, "greater than 0"),
        ({"type": "free_shipping", "value_minor": 500}, "has no value_minor"),
        ({"type": "percent_off"}, "percent"),
        ({"type": "percent_off", "percent": 0}, "greater than or equal to 1"),
        ({"type": "percent_off", "percent": 101}, "less than or equal to 100"),
        ({"type": "amount_off", "value_minor": 500, "percent": 10}, "percent"),
        ({"type": "free_shipping", "gift": "mug"}, "gift offers only"),
        ({"type": "free_shipping", "valid_days": 0}, "greater than or equal to 1"),
        ({"type": "free_shipping", "valid_days": 366}, "less than or equal to 365"),
        ({"type": "free_shipping", "pool": "Spring Codes"}, "pattern"),
        ({"type": "free_shipping", "colour": "red"}, "Extra inputs"),
        ({"type": "cashback"}, "Input should be"),
    ],
)
def test_offers_that_do_not_say_what_they_are_worth_are_refused(
    offer: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Offer.model_validate(offer)


def test_a_money_reward_needs_the_currency_it_is_in() -> None:
    with pytest.raises(ValidationError, match="currency"):
        request(currency=None)
    assert request(offer=Offer(type="free_shipping"), currency=None).currency is None


@pytest.mark.parametrize(
    "bad", [{"recipe": "Win back"}, {"period": "2025#12"}, {"step": 0}, {"recipe": "win#back"}]
)
def test_a_request_key_cannot_be_made_ambiguous(bad: dict[str, Any]) -> None:
    # "#" separates the key's parts in storage: no part may contain one
    with pytest.raises(ValidationError):
        request(**bad)


def test_a_request_is_keyed_like_a_message_and_expires_valid_days_after_issue() -> None:
    asked = request(offer=Offer(type="percent_off", percent=15, valid_days=14))
    assert asked.key == "winback#3#2025-12-01"
    assert asked.expires_at == T0 + timedelta(days=14)


def test_a_reward_carries_the_offer_and_the_currency_only_where_money_is_involved() -> None:
    amount = Reward.issue(request(), "CB-AAAA-BBBB")
    assert (amount.type, amount.value_minor, amount.currency, amount.percent) == (
        "amount_off",
        1000,
        "JPY",
        None,
    )
    shipping = Reward.issue(request(offer=Offer(type="free_shipping")), "CB-AAAA-CCCC")
    assert (shipping.value_minor, shipping.currency) == (None, None)
    gift = Reward.issue(request(recipe="loyalty", offer=Offer(type="gift", gift="Tea mug")), "CB-AAAA-DDDD")
    assert (gift.type, gift.gift, gift.key) == (RewardType.GIFT, "Tea mug", "loyalty#3#2025-12-01")
    assert amount.state is RewardState.ISSUED and amount.key == request().key


# -- codes -----------------------------------------------------------------------------------------


def test_the_code_alphabet_has_no_symbol_a_customer_could_misread() -> None:
    assert not set("0O1I") & set(CODE_ALPHABET)
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 32
    assert set(CODE_ALPHABET) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@given(
    seed=st.integers(),
    length=st.integers(min_value=4, max_value=16),
    prefix=st.sampled_from(["CB", "W1", "X"]),
)
def test_generated_codes_are_the_prefix_then_groups_of_four_readable_symbols(
    seed: int, length: int, prefix: str
) -> None:
    code = new_code(prefix, length, random.Random(seed))
    head, *groups = code.split("-")
    assert head == prefix
    assert "".join(groups) and set("".join(groups)) <= set(CODE_ALPHABET)
    assert len("".join(groups)) == length and all(len(g) == 4 for g in groups[:-1])
    assert normalise_code(code) == code  # what we generate is already in compared form


def test_generated_codes_look_like_the_documented_example_and_differ() -> None:
    code = new_code()
    assert re.fullmatch(r"CB-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}", code)
    assert len({new_code() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("prefix", "length"), [("cb", 8), ("", 8), ("TOOLONGPREFIX", 8), ("CB", 3), ("CB", 17)]
)
def test_a_bad_prefix_or_length_is_refused(prefix: str, length: int) -> None:
    with pytest.raises(ValueError, match=r"prefix|symbols"):
        new_code(prefix, length)


def test_codes_are_compared_trimmed_and_upper_cased() -> None:
    assert normalise_code("  cb-7kq4-m2xp\n") == "CB-7KQ4-M2XP"
    assert codes_on_order(["welcome10", " WELCOME10 ", "cb-7kq4-m2xp", "", "  "]) == [
        "WELCOME10",
        "CB-7KQ4-M2XP",
    ]


def test_an_upload_is_trimmed_deduplicated_and_refused_whole_for_one_bad_line() -> None:
    assert pool_codes([" SPRING-1 ", "", "spring-1", "Spring_2\n", "abc"]) == ["SPRING-1", "Spring_2", "abc"]
    for bad in ("ab", "x" * 33, "has space", "naïve", "semi;colon", "#hash"):
        with pytest.raises(InvalidCode, match="line 2"):
            pool_codes(["GOOD-1", bad])


# -- transitions -----------------------------------------------------------------------------------


def test_a_reward_is_redeemed_once_even_after_its_expiry_but_not_once_expired() -> None:
    issued = Reward.issue(request(), "CB-AAAA-BBBB")
    late = issued.redeemed("o-1", issued.expires_at + timedelta(days=1))
    assert late is not None and (late.state, late.order_id) == (RewardState.REDEEMED, "o-1")
    assert late.redeemed("o-2", T0) is None
    expired = issued.expired(issued.expires_at)
    assert expired is not None and expired.redeemed("o-3", issued.expires_at) is None


def test_a_reward_expires_at_its_time_not_before_and_only_once() -> None:
    issued = Reward.issue(request(), "CB-AAAA-BBBB")
    assert issued.expired(issued.expires_at - timedelta(microseconds=1)) is None
    assert issued.is_open(issued.expires_at - timedelta(microseconds=1))
    expired = issued.expired(issued.expires_at + timedelta(hours=2))
    assert expired is not None and expired.expired_at == issued.expires_at + timedelta(hours=2)
    assert expired.expired(issued.expires_at + timedelta(days=9)) is None
    assert not issued.is_open(issued.expires_at) and not expired.is_open(T0)


def test_a_reminder_is_asked_for_once_and_never_for_a_used_reward() -> None:
    issued = Reward.issue(request(), "CB-AAAA-BBBB")
    reminded = issued.reminded(T0 + timedelta(days=25))
    assert reminded is not None and reminded.reminded(T0 + timedelta(days=26)) is None
    used = issued.redeemed("o-1", T0)
    assert used is not None and used.reminded(T0) is None


def test_the_contact_view_shows_the_code_its_worth_state_expiry_and_recipe() -> None:
    amount = Reward.issue(request(), "CB-AAAA-BBBB")
    assert amount.view() == {
        "code": "CB-AAAA-BBBB",
        "type": "amount_off",
        "value_minor": 1000,
        "currency": "JPY",
        "state": "issued",
        "issued_at": "2026-03-01T09:00:00.000000Z",
        "expires_at": "2026-03-31T09:00:00.000000Z",
        "recipe": "winback",
        "step": 3,
    }
    percent = Reward.issue(request(offer=Offer(type="percent_off", percent=15)), "CB-AAAA-CCCC")
    redeemed = percent.redeemed("o-9", T0 + timedelta(days=2))
    assert redeemed is not None
    view = redeemed.view()
    assert (view["percent"], view["state"], view["order_id"]) == (15, "redeemed", "o-9")
    assert "value_minor" not in view


# -- the fake ledger: the property the sweep relies on ---------------------------------------------


class FewSymbols(random.Random):
    def choice(self, seq: Any) -> Any:
        return super().choice(seq[:3])


ASKS = st.lists(
    st.tuples(
        st.sampled_from(["c-1", "c-2", "c-3"]),  # contact
        st.integers(min_value=1, max_value=4),  # step
        st.sampled_from(["2025-12-01", "2026-06-01"]),  # period
        st.integers(min_value=0, max_value=30),  # days after the first ask (a later sweep)
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(asks=ASKS, seed=st.integers(min_value=0, max_value=3))
def test_asking_for_rewards_any_number_of_times_in_any_order_issues_one_reward_and_code_per_key(
    asks: list[tuple[str, int, str, int]], seed: int
) -> None:
    # a random source of 3^4 = 81 codes for up to 24 keys: collisions happen and must be resolved
    ledger = InMemoryRewardStore(rng=FewSymbols(seed), code_length=4)
    first: dict[tuple[str, str], Reward] = {}
    for contact, step, period, days in asks:
        asked = request(contact_id=contact, step=step, period=period, issued_at=T0 + timedelta(days=days))
        reward = ledger.issue(asked)
        # the first answer for a key is the answer for ever
        assert first.setdefault((contact, asked.key), reward) == reward
    keys = set(first)
    stored = [r for contact in ("c-1", "c-2", "c-3") for r in ledger.for_contact("acme", contact)]
    assert {(r.contact_id, r.key) for r in stored} == keys and len(stored) == len(keys)
    assert len({r.code for r in stored}) == len(stored)  # one code each, unique in the shop
    assert all(ledger.find_code("acme", r.code) == r for r in stored)


@settings(max_examples=60, deadline=None)
@given(
    codes=st.integers(min_value=0, max_value=6),
    asks=st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=12),
)
def test_a_pool_hands_out_each_code_once_and_then_says_it_is_empty(codes: int, asks: list[str]) -> None:
    ledger = InMemoryRewardStore()
    ledger.upload_pool("acme", "spring", [f"CODE-{i}" for i in range(codes)])
    pooled = Offer(type="percent_off", percent=10, pool="spring")
    got: dict[str, str] = {}
    for contact in asks:
        try:
            got.setdefault(contact, ledger.issue(request(contact_id=contact, offer=pooled)).code)
        except PoolEmpty:
            assert contact not in got and len(set(got.values())) == codes
    assert len(set(got.values())) == len(got) == min(codes, len(set(asks)))
    assert ledger.pool_size("acme", "spring") == codes - len(got)
