"""`comeback contacts show`'s table (cli/contact_table.py), on contact views built by the real code:
the events applied and the recipes run as the contacts function does, then `contact_view`."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from comeback.cli.contact_table import mask_email, render_contact
from comeback.cli.tables import columns
from comeback.domain import playbook
from comeback.domain.clock import isoformat
from comeback.domain.events import parse_event
from comeback.domain.profile import Profile, apply, empty
from comeback.domain.rewards import Offer, Reward, RewardRequest, RewardType
from comeback.domain.views import contact_view
from comeback.recipes import engine
from tests.support import order, others_off, shop_event

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMER = {"id": "c-1001", "email": "hanako.yamada@example.com"}
# (points are not spent here: the balances shown are what was earned)
BOOK = playbook.load({"consent": "opt_out", "loyalty": {"redeem": None}, **others_off()})


def at(days: float) -> str:
    return isoformat(T0 + timedelta(days=days))


def played(events: list[dict[str, Any]], book: playbook.Playbook = BOOK) -> tuple[Profile, datetime]:
    """The profile the events make, each applied and decided on soon after it happened."""
    profile: Profile | None = None
    now = T0
    for raw in events:
        event = parse_event(raw)
        now = event.occurred_at + timedelta(minutes=5)
        after = apply(profile or empty("demo", "ct-1", CUSTOMER["id"]), event)
        outcome = engine.on_event(profile, after, event, book, now)
        profile = engine.plan_due(outcome.profile, book, now).profile
    assert profile is not None
    return profile, now


def reward(code: str, offer: Offer, issued: datetime, recipe: str = "milestone") -> Reward:
    request = RewardRequest(shop_id="demo", contact_id="ct-1", recipe=recipe, step=1, period="2026",
                            offer=offer, currency="JPY", issued_at=issued)  # fmt: skip
    return Reward.issue(request, code)


def hanako(book: playbook.Playbook = BOOK) -> dict[str, Any]:
    """A customer who gave her name, bought three times (silver after the first), with two rewards:
    a milestone's ¥500 off, unused, and a win-back free shipping redeemed on the third order."""
    data = {"first_name": "Hanako", "last_name": "Yamada", "accepts_marketing": True}
    named = shop_event("customer.updated", id="u-1", occurred_at=at(0), customer=CUSTOMER, data=data)
    buys = [order(f"o{i}", at(days), CUSTOMER, total=total)
            for i, (days, total) in enumerate([(0, "60000"), (20, "12000"), (40, "4980")], 1)]  # fmt: skip
    profile, now = played([named, *buys], book)
    milestone = reward("CB-7KQ4-M2XP", Offer(type=RewardType.AMOUNT_OFF, value_minor=500), now)
    shipping = reward(
        "CB-FREE-SHIP", Offer(type=RewardType.FREE_SHIPPING), T0 + timedelta(days=21), "winback"
    )
    shipping = shipping.redeemed("o3", T0 + timedelta(days=40))
    assert shipping is not None
    return contact_view(profile, book, now + timedelta(hours=1), [milestone, shipping])


def block(text: str, title: str) -> list[str]:
    """The lines of one block (`orders`, `loyalty` ...) under its title, up to the blank line."""
    lines = text.split("\n")
    start = lines.index(title) + 1
    end = lines.index("", start)
    return lines[start:end]


def field(text: str, title: str, name: str) -> str:
    """The value of `name` in the block `title` (`  name    value`)."""
    for line in block(text, title):
        if line.startswith(f"  {name}  "):
            return line[len(name) + 2 :].strip()
    raise AssertionError(f"no {name!r} in {title!r}:\n{text}")


def test_the_table_shows_who_what_they_bought_and_their_points_tier_and_the_way_to_the_next() -> None:
    view = hanako()
    text = render_contact(view)
    assert (field(text, "contact", "shop"), field(text, "contact", "customer")) == ("demo", "c-1001")
    assert field(text, "contact", "contact") == "ct-1"
    assert (field(text, "contact", "stage"), field(text, "contact", "tags")) == ("active", "active, customer")
    assert (field(text, "contact", "subscribed"), field(text, "contact", "suppressed")) == ("yes", "no")
    assert field(text, "orders", "orders") == "3"
    assert field(text, "orders", "total spent") == "¥76,980"  # format_money, in the order's currency
    assert field(text, "orders", "first order") == "2026-03-01 00:00 UTC"
    assert field(text, "orders", "last order") == "2026-04-10 00:00 UTC"
    # what the view says, as the view says it
    assert field(text, "loyalty", "points") == f"{view['points_balance']:,}" == "720"
    assert field(text, "loyalty", "pending") == "49"  # the third order's, in its return window
    assert field(text, "loyalty", "lifetime") == "720"
    assert (field(text, "loyalty", "debt"), field(text, "loyalty", "tier")) == ("0", "silver")
    assert field(text, "loyalty", "next tier") == "1,280 points to gold"
    assert field(text, "loyalty", "tier since") == "2026-03-15 00:00 UTC"
    assert "no requalification" in field(text, "loyalty", "tier until")  # a lifetime basis
    assert field(text, "loyalty", "expiring") == "-"


def test_the_email_is_masked_as_the_logs_mask_it_and_the_name_never_shows() -> None:
    text = render_contact(hanako())
    assert field(text, "contact", "email") == "<redacted-email>"
    assert "hanako.yamada" not in text and "example.com" not in text
    assert "Hanako" not in text and "Yamada" not in text


def test_the_ledgers_last_entries_show_newest_last_with_their_points_aligned() -> None:
    view = hanako()
    text = render_contact(view)
    lines = block(text, "loyalty")
    start = next(i for i, line in enumerate(lines) if line.startswith("  ledger"))
    assert lines[start] == "  ledger (5 entries, newest last)"
    header, *rows = lines[start + 1 :]
    assert header.split() == ["at", "kind", "points", "cause"]
    assert [row.split()[3:] for row in rows] == [
        ["pending", "600", "o:o1"],
        ["confirmed", "600", "o:o1"],
        ["pending", "120", "o:o2"],
        ["confirmed", "120", "o:o2"],
        ["pending", "49", "o:o3"],
    ]
    assert rows[-1].split()[:2] == ["2026-04-10", "00:00"]  # the newest, last
    end = header.index("points") + len("points")
    for row, points in zip(rows, ["600", "600", "120", "120", "49"], strict=True):
        assert row[end - len(points) : end] == points  # right-aligned under their header


def test_only_the_last_ten_entries_show_and_the_header_says_of_how_many() -> None:
    view = copy.deepcopy(hanako())
    view["loyalty"]["entries"] = [
        {"kind": "bonus", "at": at(n), "points": n, "cause": f"b:review:{n}"} for n in range(1, 16)
    ]
    lines = block(render_contact(view), "loyalty")
    start = next(i for i, line in enumerate(lines) if line.startswith("  ledger"))
    assert lines[start] == "  ledger (last 10 of 15 entries, newest last)"
    causes = [line.split()[-1] for line in lines[start + 2 :]]
    assert causes == [f"b:review:{n}" for n in range(6, 16)]


def test_rewards_show_their_code_worth_state_expiry_and_recipe() -> None:
    lines = block(render_contact(hanako()), "rewards")
    assert lines[0].split() == ["code", "type", "worth", "state", "issued", "expires", "recipe", "order"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["CB-7KQ4-M2XP"] == ["CB-7KQ4-M2XP", "amount_off", "¥500", "issued", "2026-04-10",
                                    "2026-05-10", "milestone", "1"]  # fmt: skip
    assert rows["CB-FREE-SHIP"][1:4] == ["free_shipping", "free", "shipping"]
    assert rows["CB-FREE-SHIP"][4:] == ["redeemed", "2026-03-22", "2026-04-21", "winback", "1", "o3"]


def test_each_enabled_recipe_shows_its_next_due_time_soonest_first() -> None:
    view = hanako()
    lines = block(render_contact(view), "recipes")
    assert lines[0].split() == ["recipe", "next", "due"]
    due = {line.split()[0]: " ".join(line.split()[1:]) for line in lines[1:]}
    assert due["loyalty"] == "2026-04-24 00:00 UTC"  # the third order's points confirm
    assert due["winback"] == "2026-07-09 00:00 UTC"
    assert due["expiry"] == "-"
    assert next(iter(due)) == "loyalty"


def test_a_spend_basis_says_how_much_more_to_spend_and_store_credit_adds_up() -> None:
    view = copy.deepcopy(hanako())
    view["loyalty"]["tier_basis"] = "spend_12m"
    view["points_to_next_tier"] = 500000
    view["rewards"].append({"code": "CB-CRED-IT01", "type": "store_credit", "value_minor": 1000,
                            "currency": "JPY", "state": "issued", "issued_at": at(40),
                            "expires_at": at(70), "recipe": "loyalty", "step": 2})  # fmt: skip
    view["store_credit"] = {"balance_minor": 1000, "currency": "JPY", "codes": 1}  # as the view sums them
    text = render_contact(view)
    assert field(text, "loyalty", "next tier") == "¥500,000 to gold"
    assert field(text, "loyalty", "store credit") == "¥1,000 unused (1 code)"


def test_a_shop_with_loyalty_off_says_so_and_the_rest_still_shows() -> None:
    book = playbook.load({"consent": "opt_out", "loyalty": {"enabled": False}})
    view = hanako(book)
    assert view["loyalty"] is None
    text = render_contact(view)
    assert block(text, "loyalty") == ["  off (the shop's playbook turns the program off)"]
    assert field(text, "orders", "total spent") == "¥76,980"
    assert "CB-7KQ4-M2XP" in "\n".join(block(text, "rewards"))


def test_a_prospect_without_orders_and_a_view_missing_fields_read_as_dashes() -> None:
    profile, now = played([shop_event("customer.updated", id="u-1", occurred_at=at(0), customer=CUSTOMER,
                                      data={"accepts_marketing": False})])  # fmt: skip
    text = render_contact(contact_view(profile, BOOK, now))
    assert field(text, "orders", "total spent") == "-" and field(text, "orders", "last order") == "-"
    assert field(text, "contact", "subscribed").startswith("no (the shop reports no marketing consent")
    assert block(text, "rewards") == ["  none"]
    assert "ledger: no entries yet" in text
    bare = render_contact({"contact_id": "ct-2", "loyalty": {"entries": [{"kind": "pending"}]}})
    assert field(bare, "contact", "email") == "-" and field(bare, "loyalty", "tier") == "-"
    assert field(bare, "orders", "orders") == "-"
    assert "  ledger (1 entry, newest last)" in bare.splitlines()
    assert render_contact({}).startswith("contact\n  shop")


def test_plain_text_without_colour_codes_or_trailing_spaces() -> None:
    text = render_contact(hanako())
    assert "\x1b" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert text.endswith("\n")


@pytest.mark.parametrize("email", ["hanako@example.com", "ユーザー@例え.jp", "root@localhost", "x"])
def test_an_address_is_never_shown_in_clear_even_one_the_log_pattern_misses(email: str) -> None:
    assert mask_email(email) == "<redacted-email>"
    assert mask_email(None) == mask_email("") == "-"


def test_columns_pad_to_the_widest_cell_and_right_align_the_asked_columns() -> None:
    assert columns([["a", "1", "x"], ["bbb", "100", ""]], right={1}) == ["a      1  x", "bbb  100"]
    assert columns([]) == []


def test_the_predictions_show_under_orders_once_the_shop_has_a_model_and_say_none_before() -> None:
    from tests.support import fitted_model

    text = render_contact(hanako(BOOK.with_predictions(fitted_model())))
    lines = block(text, "orders")
    start = lines.index("  predictions")
    shown = dict(line.strip().split("  ", 1) for line in lines[start + 1 :])
    shown = {k.strip(): v.strip() for k, v in shown.items()}
    assert shown["p(alive)"].endswith("%") and shown["confidence"] == "normal"
    assert float(shown["orders, next 90 days"]) > 0 and shown["CLV, next 365 days"].startswith("¥")
    assert shown["next order expected"].endswith("UTC")
    assert "predictions: none yet" in "\n".join(block(render_contact(hanako()), "orders"))
