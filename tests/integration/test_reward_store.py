"""The reward ledger on DynamoDB (moto), and the in-memory fake held to the same contract.

The `ledger` fixture runs each contract test against both stores: the unit tests of the domain
trust the fake, so the fake must behave as the adapter does.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.reward_store import DynamoRewardStore, code_items_in_story, code_items_of
from comeback.domain import playbook
from comeback.domain.events import parse_event
from comeback.domain.rewards import (
    CODE_ALPHABET,
    CodesExhausted,
    InvalidCode,
    Offer,
    PoolEmpty,
    RewardRequest,
    RewardState,
    RewardStore,
)
from comeback.local import moto_patches
from tests.fakes.reward_store import InMemoryRewardStore
from tests.support import order, shop_event

REGION = "us-east-1"
TABLE = "rewards-test"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FREE_SHIPPING = Offer(type="free_shipping")
AMOUNT_OFF = Offer(type="amount_off", value_minor=500)
POOLED = Offer(type="percent_off", percent=15, pool="spring")


def request(contact: str = "c-1", step: int = 2, offer: Offer = AMOUNT_OFF, **changes: Any) -> RewardRequest:
    fields: dict[str, Any] = {
        "shop_id": "acme",
        "contact_id": contact,
        "recipe": "winback",
        "step": step,
        "period": "2025-12-01",
        "offer": offer,
        "currency": "JPY",
        "issued_at": T0,
        **changes,
    }
    return RewardRequest(**fields)


@pytest.fixture
def ddb() -> Iterator[Any]:
    moto_patches.apply()  # each DynamoDB request atomic, as in AWS (moto alone takes no lock)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(**keys.table_definition(TABLE))
        yield client


@pytest.fixture(params=["dynamodb", "fake"])
def make_ledger(request: pytest.FixtureRequest, ddb: Any) -> Callable[[random.Random], RewardStore]:
    def make(rng: random.Random) -> RewardStore:
        if request.param == "fake":
            return InMemoryRewardStore(rng=rng)
        return DynamoRewardStore(ddb, TABLE, rng=rng)

    return make


@pytest.fixture
def ledger(make_ledger: Callable[[random.Random], RewardStore]) -> RewardStore:
    return make_ledger(random.Random(1))


class Repeating(random.Random):
    """A random source that yields the same symbols for its first `repeat` codes, then others."""

    def __init__(self, repeat: int, length: int = 8) -> None:
        super().__init__(5)
        self._forced = list(CODE_ALPHABET[:length]) * repeat

    def choice(self, seq: Any) -> Any:
        if self._forced and seq == CODE_ALPHABET:
            return self._forced.pop(0)
        return super().choice(seq)


# -- the contract, on both stores ------------------------------------------------------------------


def test_issuing_the_same_request_again_returns_the_reward_already_issued(ledger: RewardStore) -> None:
    first = ledger.issue(request())
    again = ledger.issue(request(issued_at=T0 + timedelta(days=3)))  # a later sweep asks again
    assert again == first
    assert [r.code for r in ledger.for_contact("acme", "c-1")] == [first.code]
    assert first.state is RewardState.ISSUED and first.expires_at == T0 + timedelta(days=30)
    assert (first.value_minor, first.currency, first.key) == (500, "JPY", "winback#2#2025-12-01")


def test_each_step_period_and_contact_gets_its_own_reward_with_its_own_code(ledger: RewardStore) -> None:
    rewards = [
        ledger.issue(request()),
        ledger.issue(request(step=3)),
        ledger.issue(request(period="2026-06-01")),
        ledger.issue(request(contact="c-2")),
    ]
    assert len({r.code for r in rewards}) == 4
    assert len(ledger.for_contact("acme", "c-1")) == 3
    assert ledger.get("acme", "c-1", "winback#3#2025-12-01") == rewards[1]
    assert ledger.get("acme", "c-1", "winback#4#2025-12-01") is None


def test_find_code_ignores_case_and_surrounding_spaces(ledger: RewardStore) -> None:
    reward = ledger.issue(request())
    assert reward.code.startswith("CB-")
    assert ledger.find_code("acme", f"  {reward.code.lower()}\t") == reward
    assert ledger.find_code("other-shop", reward.code) is None  # unique per shop, found per shop
    assert ledger.find_code("acme", "CB-NOPE-NOPE") is None
    assert ledger.find_code("acme", "   ") is None


def test_a_code_is_redeemed_once_by_the_first_order_that_carries_it(ledger: RewardStore) -> None:
    reward = ledger.issue(request())
    redeemed = ledger.redeem("acme", reward.code.lower(), "order-7", T0 + timedelta(days=3))
    assert redeemed is not None and redeemed.state is RewardState.REDEEMED
    assert (redeemed.order_id, redeemed.redeemed_at) == ("order-7", T0 + timedelta(days=3))
    assert ledger.redeem("acme", reward.code, "order-7", T0 + timedelta(days=4)) is None  # redelivered
    assert ledger.redeem("acme", reward.code, "order-8", T0 + timedelta(days=5)) is None
    assert ledger.redeem("acme", "UNKNOWN-CODE", "order-9", T0) is None
    assert ledger.get("acme", "c-1", reward.key) == redeemed
    # redeemed is final: it neither expires nor asks for a reminder
    assert ledger.expire("acme", "c-1", reward.key, T0 + timedelta(days=60)) is None
    assert ledger.mark_reminded("acme", "c-1", reward.key, T0 + timedelta(days=25)) is False


def test_a_code_used_after_its_expiry_but_before_we_expired_it_still_counts_as_redeemed(
    ledger: RewardStore,
) -> None:
    reward = ledger.issue(request())
    late = ledger.redeem("acme", reward.code, "order-late", T0 + timedelta(days=31))
    assert late is not None and late.state is RewardState.REDEEMED


def test_a_reward_expires_once_and_not_before_its_time(ledger: RewardStore) -> None:
    reward = ledger.issue(request())
    assert ledger.expire("acme", "c-1", reward.key, reward.expires_at - timedelta(seconds=1)) is None
    expired = ledger.expire("acme", "c-1", reward.key, reward.expires_at)
    assert expired is not None and expired.state is RewardState.EXPIRED
    assert expired.expired_at == reward.expires_at
    assert ledger.expire("acme", "c-1", reward.key, reward.expires_at + timedelta(days=1)) is None
    assert ledger.expire("acme", "c-1", "winback#9#nothing", reward.expires_at) is None
    # an expired code that comes back on an order is not a redemption any more
    assert ledger.redeem("acme", reward.code, "order-1", reward.expires_at + timedelta(days=2)) is None
    assert ledger.get("acme", "c-1", reward.key) == expired


def test_the_expiry_reminder_is_marked_the_first_time_only(ledger: RewardStore) -> None:
    reward = ledger.issue(request())
    at = T0 + timedelta(days=27)
    assert ledger.mark_reminded("acme", "c-1", reward.key, at) is True
    assert ledger.mark_reminded("acme", "c-1", reward.key, at + timedelta(hours=1)) is False
    assert ledger.mark_reminded("acme", "c-1", "winback#9#nothing", at) is False
    stored = ledger.get("acme", "c-1", reward.key)
    assert stored is not None and stored.reminded_at == at and stored.state is RewardState.ISSUED


def test_pool_codes_are_drawn_each_once_then_the_pool_is_empty(ledger: RewardStore) -> None:
    assert ledger.upload_pool("acme", "spring", ["SPRING-A1", "spring-b2", " SPRING-C3 "]) == 3
    drawn = [ledger.issue(request(contact=f"c-{i}", offer=POOLED)).code for i in range(3)]
    assert sorted(drawn) == ["SPRING-A1", "SPRING-C3", "spring-b2"]  # kept as the shop spelt them
    assert ledger.pool_size("acme", "spring") == 0
    with pytest.raises(PoolEmpty):
        ledger.issue(request(contact="c-9", offer=POOLED))
    assert ledger.issue(request(contact="c-0", offer=POOLED)).code == drawn[0]  # asked again: same code
    assert ledger.find_code("acme", "SPRING-B2") is not None


def test_uploads_count_only_codes_new_to_the_pool_and_never_issued(ledger: RewardStore) -> None:
    assert ledger.upload_pool("acme", "spring", ["AAA-1", "aaa-1", "BBB-2", ""]) == 2
    assert ledger.upload_pool("acme", "spring", ["BBB-2", "CCC-3"]) == 1
    assert ledger.pool_size("acme", "spring") == 3
    issued = ledger.issue(request(offer=POOLED))
    # the shop uploads its whole list again: the code already issued must not come back
    assert ledger.upload_pool("acme", "spring", ["AAA-1", "BBB-2", "CCC-3"]) == 0
    assert ledger.pool_size("acme", "spring") == 2
    assert ledger.pool_size("acme", "summer") == 0 and ledger.pool_size("other", "spring") == 0
    with pytest.raises(InvalidCode, match="line 2"):
        ledger.upload_pool("acme", "spring", ["DDD-4", "has space"])
    assert ledger.pool_size("acme", "spring") == 2  # nothing of a file with a bad line
    assert issued.code not in {r.code for r in ledger.for_contact("acme", "c-2")}


def test_generated_codes_that_collide_are_replaced_by_fresh_ones(
    make_ledger: Callable[[random.Random], RewardStore],
) -> None:
    # the random source makes the same code three times over: the 2nd issue collides twice
    ledger = make_ledger(Repeating(3))
    codes = [ledger.issue(request(contact=c)).code for c in ("c-1", "c-2", "c-3")]
    assert codes[0] == "CB-2345-6789" and len(set(codes)) == 3
    assert [ledger.find_code("acme", c).contact_id for c in codes] == ["c-1", "c-2", "c-3"]  # type: ignore[union-attr]


# -- the adapter: conditions and transactions ------------------------------------------------------


def test_issuers_that_all_start_with_the_same_code_each_end_with_a_free_one(ddb: Any) -> None:
    codes = []
    for contact in ("c-1", "c-2", "c-3"):
        store = DynamoRewardStore(ddb, TABLE, rng=Repeating(3))  # a fresh issuer (another Lambda)
        codes.append(store.issue(request(contact=contact)).code)
    assert codes[0] == "CB-2345-6789" and len(set(codes)) == 3
    index = ddb.scan(
        TableName=TABLE, FilterExpression="sk = :c", ExpressionAttributeValues={":c": {"S": "CODE"}}
    )
    assert index["Count"] == 3


def test_an_issuer_that_only_ever_makes_taken_codes_gives_up_with_codes_exhausted(ddb: Any) -> None:
    DynamoRewardStore(ddb, TABLE, rng=Repeating(1)).issue(request(contact="c-1"))
    with pytest.raises(CodesExhausted):
        DynamoRewardStore(ddb, TABLE, rng=Repeating(100)).issue(request(contact="c-2"))
    assert DynamoRewardStore(ddb, TABLE).get("acme", "c-2", request().key) is None


class FromTheStart(random.Random):
    def choice(self, seq: Any) -> Any:
        return seq[0]


class IssuesFirst:
    """A DynamoDB client on which another issuer runs to the end just before our transaction:
    the race where both read the same state and the other writes first."""

    def __init__(self, client: Any, other: Any) -> None:
        self._client, self._other, self._done = client, other, False
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name != "transact_write_items" or self._done:
            return method

        def call(**kwargs: Any) -> Any:
            self._done = True
            self._other()
            return method(**kwargs)

        return call


def test_the_same_request_issued_concurrently_yields_one_reward_and_one_code(ddb: Any) -> None:
    winner = DynamoRewardStore(ddb, TABLE, rng=random.Random(2))
    won: list[Any] = []
    racing = DynamoRewardStore(IssuesFirst(ddb, lambda: won.append(winner.issue(request()))), TABLE)
    lost = racing.issue(request())
    assert lost == won[0]
    codes = ddb.scan(
        TableName=TABLE, FilterExpression="sk = :c", ExpressionAttributeValues={":c": {"S": "CODE"}}
    )
    assert codes["Count"] == 1


def test_two_issuers_reading_the_same_pool_code_hand_it_out_once(ddb: Any) -> None:
    store = DynamoRewardStore(ddb, TABLE, rng=random.Random(3))
    store.upload_pool("acme", "spring", ["ONLY-ONE", "SECOND-1"])
    other: list[Any] = []
    # both read the pool from its start, so both see the same first code
    first_start = FromTheStart()
    winner = DynamoRewardStore(ddb, TABLE, rng=first_start)
    racing = DynamoRewardStore(
        IssuesFirst(ddb, lambda: other.append(winner.issue(request(contact="c-1", offer=POOLED)))),
        TABLE,
        rng=first_start,
    )
    mine = racing.issue(request(contact="c-2", offer=POOLED))
    assert {mine.code, other[0].code} == {"ONLY-ONE", "SECOND-1"}
    assert store.pool_size("acme", "spring") == 0


class InStep:
    """A DynamoDB client shared by threads that meet before every transaction: each has read the
    pool, none has written, so each transaction races the other's for the same code."""

    def __init__(self, client: Any, parties: int) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.meet = threading.Barrier(parties, timeout=10)
        self.cancelled = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):  # the other thread is done
            self.meet.wait()
        try:
            return self._client.transact_write_items(**kwargs)
        except self._client.exceptions.TransactionCanceledException:
            self.cancelled += 1
            raise


def test_two_threads_drawing_from_one_pool_never_share_a_code(ddb: Any) -> None:
    codes = [f"POOL-{i:03d}" for i in range(40)]
    assert DynamoRewardStore(ddb, TABLE).upload_pool("acme", "spring", codes) == 40
    client = InStep(ddb, parties=2)
    store = DynamoRewardStore(client, TABLE)
    issued: dict[int, list[str]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def issue(worker: int) -> None:
        try:
            for i in range(30):
                issued[worker].append(store.issue(request(contact=f"w{worker}-{i}", offer=POOLED)).code)
        except PoolEmpty:
            pass
        except BaseException as exc:  # a failure in the thread must fail the test
            errors.append(exc)
        finally:
            client.meet.abort()

    threads = [threading.Thread(target=issue, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert client.cancelled > 0  # the threads did race for codes
    assert sorted(issued[0] + issued[1]) == codes  # every code handed out, none twice
    assert issued[0] and issued[1]
    assert DynamoRewardStore(ddb, TABLE).pool_size("acme", "spring") == 0


def test_a_pool_code_uploaded_again_after_its_draw_is_skipped_at_the_next_draw(ddb: Any) -> None:
    store = DynamoRewardStore(ddb, TABLE)
    store.upload_pool("acme", "spring", ["AAA-111"])
    first = store.issue(request(contact="c-1", offer=POOLED))
    # written behind upload_pool's back (as a concurrent upload could): the pool holds it again
    ddb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": keys.code_pool("acme", "spring")},
            "sk": {"S": "#AAA-111"},
            "code": {"S": "AAA-111"},
        },
    )
    store.upload_pool("acme", "spring", ["BBB-222"])
    second = store.issue(request(contact="c-2", offer=POOLED))
    assert (first.code, second.code) == ("AAA-111", "BBB-222")
    assert store.pool_size("acme", "spring") == 0


def test_the_reward_lives_in_the_contact_partition_and_its_expiry_is_not_the_ttl_attribute(
    ddb: Any,
) -> None:
    reward = DynamoRewardStore(ddb, TABLE).issue(request())
    item = ddb.get_item(
        TableName=TABLE, Key={"pk": {"S": "SHOP#acme#C#c-1"}, "sk": {"S": "REWARD#winback#2#2025-12-01"}}
    )["Item"]
    assert keys.TTL not in item  # the table deletes items by `expires_at`: never a reward
    assert item["valid_until"] == {"S": "2026-03-31T09:00:00.000000Z"}
    index = ddb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"SHOP#acme#CODE#{reward.code}"}, "sk": {"S": "CODE"}}
    )
    assert index["Item"]["contact_id"] == {"S": "c-1"}
    assert index["Item"]["reward_key"] == {"S": reward.key}


def test_an_erasure_leaves_nothing_of_the_contacts_rewards_inside_or_outside_its_partition(
    ddb: Any,
) -> None:
    """What is left of the ledger after `customer.deleted`: nothing.

    The partition's REWARD# items go with the rest of the history; their code index items live
    outside the partition, and the erasure finds them with `code_items_in_story` (the same keys
    as `code_items_of`) and deletes them first."""
    contacts = ContactStore(ddb, TABLE, 4)
    book = playbook.default()
    customer = {"id": "c-1", "email": "hanako@example.com"}
    contacts.apply("acme", parse_event(order("o-1", "2026-01-01T00:00:00Z", customer)), book)
    store = DynamoRewardStore(ddb, TABLE)
    rewards = [store.issue(request()), store.issue(request(step=3, offer=FREE_SHIPPING))]
    other = store.issue(request(contact="c-2"))  # another customer's reward stays
    assert code_items_in_story("acme", contacts.story("acme", "c-1")) == code_items_of(rewards)

    erasure = shop_event("customer.deleted", id="gdpr", occurred_at="2026-03-05T00:00:00Z", customer=customer)
    contacts.apply("acme", parse_event(erasure), book)

    assert store.for_contact("acme", "c-1") == []
    assert [store.find_code("acme", r.code) for r in rewards] == [None, None]
    left = {(i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(TableName=TABLE)["Items"]}
    assert not left & {(k["pk"], k["sk"]) for k in code_items_of(rewards)}
    assert not [k for k in left if k[1].startswith("REWARD#") and k[0] == "SHOP#acme#C#c-1"]
    assert not [
        i
        for i in ddb.scan(TableName=TABLE)["Items"]
        if i.get("contact_id") == {"S": "c-1"} and i["sk"]["S"] != "PROFILE"
    ]  # nothing outside the tombstone names the contact
    assert store.find_code("acme", other.code) == other
