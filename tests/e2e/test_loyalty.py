"""Loyalty over HTTP against `comeback local serve`, as a shop and its operator meet it: points
pending then confirmed by the sweep, a refund taking back its order's points, points spent on
store credit, both sides of a referral rewarded, birthday points, the milestones
(the 5th order rewarded once, whatever order orders 4 and 5 come in), a tier upgrade email, the
invitation of a non-member, and tiers changed after launch (`comeback shops set-playbook`, then
`comeback loyalty recompute`, which emails nobody unless asked)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import comeback
from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep, view
from tests.e2e.test_segments import seen
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e


def customer(customer_id: str, days: float = 0) -> dict[str, Any]:
    profile = {"first_name": customer_id.title(), "locale": "en", "accepts_marketing": True}
    return shop_event("customer.updated", id=f"u-{customer_id}", occurred_at=at_day(days).isoformat(),
                      customer=person(customer_id), data=profile)  # fmt: skip


def bought(customer_id: str, n: int, days: float, total: str) -> dict[str, Any]:
    return order(f"o-{customer_id}-{n}", at_day(days).isoformat(), person(customer_id), total=total)


def refunded(customer_id: str, n: int, days: float, amount: str) -> dict[str, Any]:
    data = {"order_id": f"o-{customer_id}-{n}", "amount": amount, "currency": "JPY"}
    stamp = at_day(days).isoformat()
    who = person(customer_id)
    return shop_event("order.refunded", id=f"r-{customer_id}-{n}", occurred_at=stamp, customer=who, data=data)


def campaigns(local: Any, customer_id: str) -> list[tuple[str, int]]:
    return [(e["campaign"], e["step"]) for e in mail(local, customer_id)]


def test_points_pend_confirm_at_the_sweep_and_milestones_and_tiers_email_once(tmp_path: Path) -> None:
    # (points are not spent here: the store credit 500 points buy is the next test's, and its
    # email would take the 5th order's slot under the frequency cap)
    with serve(tmp_path, {"demo": {"loyalty": {"redeem": None}}}, milestones=True) as local:
        send(local, [customer("aoi"), bought("aoi", 1, 0, "49800")])
        sweep(local)  # what the order queued (its milestone) goes out with the next sweep
        contact = view(local, "aoi")
        assert (contact["points_pending"], contact["points_balance"], contact["lifetime_points"]) == (
            498,
            0,
            0,
        )
        assert (contact["tier"], contact["points_to_next_tier"]) == ("bronze", 500)
        assert contact["loyalty"]["entries"][-1]["kind"] == "pending"
        assert campaigns(local, "aoi") == [("milestone", 1)]  # the first order's thank-you
        assert "1st order" in mail(local, "aoi")[0]["subject"]

        day(local, 14)  # the return window is over: the sweep confirms
        sweep(local)
        contact = view(local, "aoi")
        assert (contact["points_pending"], contact["points_balance"], contact["lifetime_points"]) == (
            0,
            498,
            498,
        )

        day(local, 15)
        send(local, [bought("aoi", 2, 15, "10000")])  # 100 more points, pending
        day(local, 29)
        sweep(local)
        contact = view(local, "aoi")
        assert (contact["points_balance"], contact["tier"], contact["points_to_next_tier"]) == (
            598,
            "silver",
            1402,
        )
        upgrade = [e for e in mail(local, "aoi") if e["campaign"] == "tier"]
        assert len(upgrade) == 1 and "Silver" in upgrade[0]["subject"], upgrade

        # orders 3, 4 and 5 in one request, 5 before 4, then 4 again: the 5th is rewarded once
        day(local, 30)
        send(local, [bought("aoi", 3, 30, "3000"), bought("aoi", 5, 30.02, "3000"),
                     bought("aoi", 4, 30.01, "3000")])  # fmt: skip
        send(local, [bought("aoi", 4, 30.01, "3000")])
        sweep(local)
        fifth = [e for e in mail(local, "aoi") if e["campaign"] == "milestone" and "5th" in e["subject"]]
        assert len(fifth) == 1, [e["subject"] for e in mail(local, "aoi")]
        rewards = [r for r in view(local, "aoi")["rewards"] if r["recipe"] == "milestone"]
        assert [(r["type"], r["value_minor"], r["state"]) for r in rewards] == [("amount_off", 500, "issued")]
        assert rewards[0]["code"] in fifth[0]["text"]
        assert view(local, "aoi")["points_pending"] == 90

        # the 5th is refunded within its return window, then a 6th order: no second 5th, and the
        # refunded points never confirm
        day(local, 31.5)
        send(local, [refunded("aoi", 5, 31, "3000"), bought("aoi", 6, 31.5, "3000")])
        sweep(local)
        assert view(local, "aoi")["points_pending"] == 90  # 30 taken back, 30 more pending
        day(local, 46)
        sweep(local)
        contact = view(local, "aoi")
        assert (contact["points_pending"], contact["points_balance"]) == (0, 688)
        assert len([e for e in mail(local, "aoi") if e["campaign"] == "milestone"]) == 2
        kinds = [e["kind"] for e in contact["loyalty"]["entries"]]
        assert kinds.count("deducted") == 1 and "debt" not in kinds


def test_points_become_store_credit_a_referral_rewards_both_sides_and_birthdays_earn(tmp_path: Path) -> None:
    loyalty = {"milestones": [], "bonus": {"referral": 100, "referred": 50, "birthday": 100},
               "referral_offer": {"type": "amount_off", "value_minor": 1000, "valid_days": 30}}  # fmt: skip
    with serve(tmp_path, {"demo": {"loyalty": loyalty}}) as local:
        mei = customer("mei")
        mei["data"].update(birthday="1990-01-25", timezone="Asia/Tokyo")
        send(local, [mei, customer("kai"), bought("mei", 1, 0, "50000")])
        sweep(local)
        assert view(local, "mei")["points_pending"] == 500 and mail(local, "mei") == []

        day(local, 14)  # confirmed: the 500 points buy the shipped store credit at once
        sweep(local)
        contact = view(local, "mei")
        assert (contact["points_balance"], contact["lifetime_points"]) == (0, 500)
        assert contact["loyalty"]["entries"][-1]["kind"] == "redeemed"
        assert contact["store_credit"] == {"balance_minor": 500, "currency": "JPY", "codes": 1}
        credit = [r for r in contact["rewards"] if r["type"] == "store_credit"]
        assert [(r["value_minor"], r["state"]) for r in credit] == [(500, "issued")]
        assert sorted(campaigns(local, "mei")) == [("reward", 1), ("tier", 1)]  # (500 is also silver)
        [email] = [e for e in mail(local, "mei") if e["campaign"] == "reward"]
        assert "500 points" in email["subject"] and credit[0]["code"] in email["text"], email["subject"]

        # mei refers kai: 100 points for mei, 50 and a welcome code for kai, once however often sent
        day(local, 15)
        referral = shop_event("referral.completed", id="ref-1", occurred_at=at_day(15).isoformat(),
                              customer=person("mei"), data={"referred_customer_id": "kai",
                                                            "referred_email": "kai@example.com"})  # fmt: skip
        send(local, [referral])
        send(local, [referral])
        sweep(local)
        assert view(local, "mei")["points_balance"] == 100
        assert view(local, "kai")["points_balance"] == 50
        welcome = mail(local, "kai")
        assert [(e["campaign"], e["step"]) for e in welcome] == [("reward", 4)], welcome
        codes = [r["code"] for r in view(local, "kai")["rewards"]]
        assert len(codes) == 1 and codes[0] in welcome[0]["text"]

        day(local, 20)  # 25 January, 09:00 in Tokyo, has passed: mei's birthday points
        sweep(local)
        assert view(local, "mei")["points_balance"] == 200
        assert view(local, "mei")["loyalty"]["entries"][-1]["cause"] == "b:birthday:2026"

        # the store credit comes back on an order: used, no longer in the balance
        send(local, [order("o-mei-2", at_day(20).isoformat(), person("mei"), total="3000",
                           discount_codes=[credit[0]["code"]])])  # fmt: skip
        contact = view(local, "mei")
        assert contact["store_credit"] is None
        assert [r["state"] for r in contact["rewards"] if r["type"] == "store_credit"] == ["redeemed"]


def test_a_non_members_order_is_invited_to_join_and_joining_starts_earning(tmp_path: Path) -> None:
    book = {"demo": {"loyalty": {"enrolment": "join", "bonus": {"join": 50}}}}
    with serve(tmp_path, book, milestones=True) as local:
        send(local, [customer("ren"), bought("ren", 1, 0, "49800")])
        sweep(local)
        invites = [e for e in mail(local, "ren") if e["campaign"] == "invite"]
        assert len(invites) == 1 and "498" in invites[0]["text"], [e["subject"] for e in mail(local, "ren")]
        assert view(local, "ren")["points_pending"] == 0
        assert view(local, "ren")["loyalty"]["member"] is False
        day(local, 0.3)
        joined = shop_event("loyalty.joined", id="j-ren", occurred_at=at_day(0.1).isoformat(),
                            customer=person("ren"), data={"program": "tea-club"})  # fmt: skip
        send(local, [joined, bought("ren", 2, 0.2, "10000")])
        contact = view(local, "ren")
        assert (contact["points_balance"], contact["points_pending"]) == (
            50,
            100,
        )  # the join bonus, then earning
        assert contact["loyalty"]["member"] is True


def test_tiers_changed_after_launch_are_replayed_and_only_told_when_asked(tmp_path: Path) -> None:
    with serve(tmp_path, {"demo": {"loyalty": {"pending_days": 0}}}, milestones=True) as local:
        send(
            local,
            [customer("mio"), bought("mio", 1, 0, "30000"), customer("kai"), bought("kai", 1, 0, "120000")],
        )
        sweep(local)  # their milestones, and kai's upgrade to silver
        assert (view(local, "mio")["tier"], view(local, "kai")["tier"]) == ("bronze", "silver")
        before = len(local.get("/_local/outbox"))

        # the shop lowers silver to 250 points and adds platinum at 1000
        tiers = [{"name": "bronze", "enter": 0}, {"name": "silver", "enter": 250},
                 {"name": "gold", "enter": 800}, {"name": "platinum", "enter": 1000}]  # fmt: skip
        path = tmp_path / "new.yaml"
        path.write_text(json.dumps({"loyalty": {"pending_days": 0, "tiers": tiers}}), encoding="utf-8")
        replaced = comeback("shops", "--local", local.base, "set-playbook", "demo", str(path))
        assert replaced.returncode == 0, replaced.stderr

        dry = comeback("loyalty", "recompute", "demo", "--local", local.base, "--dry-run", "--format", "json")
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        assert (report["replayed"], report["moved"], report["up"], report["written"]) == (2, 2, 2, False)
        assert report["by_move"] == {"bronze -> silver": 1, "silver -> platinum": 1}

        done = comeback("loyalty", "recompute", "demo", "--local", local.base)
        assert done.returncode == 0, done.stderr
        assert "2 moved (2 up, 0 down)" in done.stdout and "No one was emailed" in done.stdout
        assert seen(lambda: view(local, "kai")["tier"] == "platinum" or None)  # configs are cached 2 s
        day(local, 1)
        sweep(local)
        assert len(local.get("/_local/outbox")) == before  # told no one
        again = comeback("loyalty", "recompute", "demo", "--local", local.base, "--format", "json")
        assert json.loads(again.stdout)["moved"] == 0  # what was recorded is what the rules give

        # and once more, a gold tier lowered below mio's points, announced this time
        tiers[2] = {"name": "gold", "enter": 300}
        path.write_text(json.dumps({"loyalty": {"pending_days": 0, "tiers": tiers}}), encoding="utf-8")
        assert comeback("shops", "--local", local.base, "set-playbook", "demo", str(path)).returncode == 0
        time.sleep(2.5)  # the runtime's shop config cache: the sweep must see the new tiers
        told = comeback("loyalty", "recompute", "demo", "--local", local.base, "--notify")
        assert "1 moved (1 up, 0 down)" in told.stdout, told.stdout
        sweep(local)
        upgrades = [e for e in mail(local, "mio") if e["campaign"] == "tier"]
        assert len(upgrades) == 1 and "Gold" in upgrades[0]["subject"]


def test_birthdays_come_on_the_day_in_the_contacts_timezone_with_their_reward(tmp_path: Path) -> None:
    offer = {"type": "percent_off", "percent": 10, "valid_days": 14}
    with serve(tmp_path, {"demo": {"birthday": {"offer": offer}}}) as local:
        tokyo = {"first_name": "Sora", "locale": "en", "accepts_marketing": True, "birthday": "2001-01-20"}
        leap = {"first_name": "Lea", "locale": "en", "accepts_marketing": True, "birthday": "1996-02-29",
                "timezone": "America/New_York"}  # fmt: skip
        send(local, [
            shop_event("customer.updated", id="u-sora", occurred_at=at_day(0).isoformat(),
                       customer=person("sora"), data=tokyo),
            shop_event("customer.updated", id="u-lea", occurred_at=at_day(0).isoformat(),
                       customer=person("lea"), data=leap),
        ])  # fmt: skip
        day(local, 15)  # 20 January, 13:00 in Tokyo: Sora's birthday email was due at 09:00
        sweep(local)
        sweep(local)
        (email,) = mail(local, "sora")
        assert (email["campaign"], "birthday" in email["subject"].lower()) == ("birthday", True), email[
            "subject"
        ]
        (reward,) = view(local, "sora")["rewards"]
        assert (reward["recipe"], reward["percent"]) == ("birthday", 10) and reward["code"] in email["text"]
        assert "10%" in email["text"]
        # Lea was born on 29 February: in 2027 (a common year) her day is 28 February, in New York
        local.post("/_local/clock", {"set": "2027-02-28T15:00:00+00:00"})  # 10:00 in New York
        sweep(local)
        (email,) = mail(local, "lea")
        assert email["campaign"] == "birthday" and email["sent_at"].startswith("2027-02-28"), email
        assert mail(local, "sora") and len(mail(local, "sora")) == 1  # her 2027 birthday is not yet


def test_sign_up_anniversaries_come_once_a_year_with_their_code(tmp_path: Path) -> None:
    offer = {"type": "amount_off", "value_minor": 500, "valid_days": 30}
    book = {"demo": {"anniversary": {"offer": offer}, "winback": {"enabled": False}}}
    with serve(tmp_path, book) as local:

        def signup(customer_id: str, **data: Any) -> dict[str, Any]:
            profile = {"first_name": customer_id.title(), "locale": "en", "accepts_marketing": True, **data}
            return shop_event("customer.updated", id=f"u-{customer_id}", occurred_at=at_day(0).isoformat(),
                              customer=person(customer_id), data=profile)  # fmt: skip

        def anniversaries(customer_id: str) -> list[dict[str, Any]]:
            return [e for e in mail(local, customer_id) if e["campaign"] == "anniversary"]

        send(local, [
            signup("kenta", signed_up_at=at_day(0).isoformat()),  # joins today, 5 January 2026
            # joined on 29 February 2024, 10:00 in New York; known to the shop only from today
            signup("nao", signed_up_at="2024-02-29T15:00:00Z", timezone="America/New_York"),
            signup("mei"), bought("mei", 1, 0, "5400"),  # no sign-up date: her first order's day
        ])  # fmt: skip
        # 2026 is a common year: Nao's day is 28 February, at 09:00 in New York (14:00 UTC)
        local.post("/_local/clock", {"set": "2026-02-28T15:00:00+00:00"})
        sweep(local)
        sweep(local)
        (email,) = anniversaries("nao")
        assert email["sent_at"].startswith("2026-02-28") and "2 years" in email["subject"], email
        (reward,) = view(local, "nao")["rewards"]
        assert (reward["recipe"], reward["value_minor"]) == ("anniversary", 500)
        assert reward["code"] in email["text"] and reward["code"] in email["html"] and "¥500" in email["text"]
        assert anniversaries("kenta") == anniversaries("mei") == []  # theirs are not due for a year

        # a year after Kenta's sign-up and Mei's first order, 13:00 in Tokyo (due at 09:00)
        day(local, 365)
        sweep(local)
        sweep(local)
        day(local, 366)
        sweep(local)
        for customer_id in ("kenta", "mei"):
            (email,) = anniversaries(customer_id)
            assert email["sent_at"].startswith("2027-01-05") and "1 year together" in email["subject"], email
            (reward,) = [r for r in view(local, customer_id)["rewards"] if r["recipe"] == "anniversary"]
            assert reward["code"] in email["text"]
        assert len(anniversaries("nao")) == 1

        # and the next year, once more each: Nao's on 28 February 2027, Kenta's a year on
        local.post("/_local/clock", {"set": "2027-02-28T15:00:00+00:00"})
        sweep(local)
        day(local, 730)  # 5 January 2028, 13:00 in Tokyo
        sweep(local)
        sweep(local)
        assert [e["sent_at"][:10] for e in anniversaries("nao")] == ["2026-02-28", "2027-02-28"]
        kenta = anniversaries("kenta")
        assert [e["sent_at"][:10] for e in kenta] == ["2027-01-05", "2028-01-05"]
        assert "2 years together" in kenta[1]["subject"]
        codes = {r["code"] for r in view(local, "kenta")["rewards"] if r["recipe"] == "anniversary"}
        assert len(codes) == 2 and all(any(c in e["text"] for e in kenta) for c in codes)

        # a sweep more than 24 hours after the moment sends nothing for that year
        day(local, 730 + 366 + 1)  # 6 January 2029, 13:00 in Tokyo: 28 hours after Kenta's moment
        report = sweep(local)
        assert report["not_asked"].get("stale", 0) >= 1, report
        assert len(anniversaries("kenta")) == 2
