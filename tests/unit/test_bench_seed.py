"""The bench's own tools: DynamoDB item sizes, the seeded contacts, the two bench recipes."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from bench import recipes, seed
from bench.recipes import orderversary, replenish
from bench.support import START
from bench.sweep import attribute_bytes, item_bytes
from comeback.aws.contact_store import ContactStore
from comeback.domain import playbook
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.profile import apply, empty
from comeback.recipes import engine, registry


def test_item_sizes_follow_dynamodbs_rules() -> None:
    assert attribute_bytes({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_bytes({"N": "12345"}) == 4  # ceil(5 digits / 2) + 1
    assert attribute_bytes({"N": "-0.5"}) == 2
    assert attribute_bytes({"BOOL": True}) == 1
    assert attribute_bytes({"M": {"ab": {"S": "xyz"}}}) == 3 + 2 + 3
    assert attribute_bytes({"L": [{"S": "a"}, {"N": "1"}]}) == 3 + (1 + 1) + (1 + 2)
    assert item_bytes({"pk": {"S": "c#1"}, "n": {"N": "7"}}) == (2 + 3) + (1 + 2)


def test_due_templates_come_due_in_the_last_hour_and_calm_ones_after_now() -> None:
    pb = playbook.default()
    made = seed.templates(pb, START, count=20)
    assert made.due and len(made.calm) == 20
    for profile in made.due:
        at = seed.earliest(profile)
        assert at is not None and START - seed.HOUR < at <= START
        assert engine.due_now(profile, pb, START)
    for profile in made.calm:
        at = seed.earliest(profile)
        assert at is None or at > START
        assert not engine.due_now(profile, pb, START)


def test_a_copy_is_another_contact_with_the_same_history_and_due_time() -> None:
    pb = playbook.default()
    template = seed.templates(pb, START, count=5).due[0]
    copy = seed.copy_of(template, "c-9")
    assert (copy.contact_id, copy.customer_id, copy.email_address) == ("c-9", "c-9", "c-9@example.com")
    assert template.email_address != copy.email_address
    item = ContactStore(None, "comeback", 8).profile_item(copy, 1, pb)
    assert item["due_at"]["S"] == isoformat(seed.earliest(template))  # type: ignore[arg-type]
    assert item["dues"]["M"].keys() == template.dues.keys()


def test_the_bench_recipes_are_enabled_beside_every_shipped_one() -> None:
    shipped = {r.name for r in registry.enabled(playbook.default())}
    assert (
        "upsell" not in shipped and {"winback", "loyalty", "nps", "lifecycle"} <= shipped
    )  # (upsell: a map)
    with recipes.registered():
        names = [r.name for r in registry.enabled(playbook.load(recipes.PLAYBOOK))]
        assert set(names) == shipped | {"replenish", "orderversary"}
        assert names[-1] == "lifecycle"


def test_the_bench_recipes_fast_answers_match_what_they_decide_with_the_profile() -> None:
    with recipes.registered():
        pb = playbook.load(recipes.PLAYBOOK)
        first = cast(ShopEvent, parse_event(seed.order_placed("o1", START - timedelta(days=10), "c-1")))
        later = cast(ShopEvent, parse_event(seed.order_placed("o2", START - timedelta(days=2), "c-1")))
        profile = apply(empty("demo", "c-1", "c-1"), first)
        profile = engine.on_event(None, profile, first, pb, first.occurred_at).profile
        assert profile.recipes["orderversary"]["v"] == {"phase": "armed"}  # the first order arms it
        fast = replenish.RECIPE.fast(later, pb)
        assert fast is not None and fast.due == later.occurred_at + timedelta(days=45)
        after = apply(profile, later)
        after = engine.on_event(profile, after, later, pb, later.occurred_at).profile
        assert parse_iso(after.dues["replenish"]) == fast.due  # the fast path's due time is exact
        kept = orderversary.RECIPE.fast(later, pb)
        assert kept is not None and kept.requires == {"phase": ("armed", "done")}
        assert after.dues["orderversary"] == profile.dues["orderversary"]  # a later order keeps it
