"""`comeback contacts show` as an operator types it, against `comeback local serve`: after a shop's
order, the table a person reads (pending points, tier, the way to the next; the email masked), the
JSON a script reads, and an unknown customer as one line with exit status 2."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Client
from tests.e2e.test_cli import comeback, one_error_line
from tests.e2e.test_recipes import at_day, person, send, view
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e

WHO = "show-1"


def field(text: str, name: str) -> str:
    """The value on the first `  name  value` line of the table."""
    for line in text.splitlines():
        if line.startswith(f"  {name}  "):
            return line[len(name) + 2 :].strip()
    raise AssertionError(f"no {name!r} in:\n{text}")


def test_contacts_show_prints_pending_points_and_the_tier_for_a_person_and_json_for_scripts(
    local: Client,
) -> None:
    # Given a customer who gave her name and consent, and her first order of ¥49,800
    profile = {"first_name": "Sakura", "last_name": "Mori", "locale": "en", "accepts_marketing": True}
    named = shop_event("customer.updated", id=f"u-{WHO}", occurred_at=at_day(0).isoformat(),
                       customer=person(WHO), data=profile)  # fmt: skip
    send(local, [named, order(f"o-{WHO}", at_day(0).isoformat(), person(WHO), total="49800")])

    # When the operator looks her up (by her id) without saying how
    shown = comeback("contacts", "show", "--local", local.base, "demo", WHO)

    # Then a table: her points pending for the return window, bronze, 500 points to silver
    assert shown.returncode == 0, shown.stderr
    table = shown.stdout
    assert (field(table, "shop"), field(table, "customer"), field(table, "stage")) == ("demo", WHO, "active")
    assert (field(table, "orders"), field(table, "total spent")) == ("1", "¥49,800")
    assert (field(table, "points"), field(table, "pending"), field(table, "lifetime")) == ("0", "498", "0")
    assert (field(table, "tier"), field(table, "next tier")) == ("bronze", "500 points to silver")
    ledger = table.split("newest last)\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert ledger[-1].split()[-3:] == ["pending", "498", f"o:o-{WHO}"]
    assert "\x1b" not in table  # plain text
    # her address masked as the logs mask it, her name nowhere
    assert field(table, "email") == "<redacted-email>"
    assert person(WHO)["email"] not in table and "Sakura" not in table and "Mori" not in table

    # and `--format json` is the contact view itself, as GET /_local/contacts answers it
    as_json = comeback("contacts", "show", "--local", local.base, "demo", WHO, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert (document["points_pending"], document["tier"], document["points_to_next_tier"]) == (
        498,
        "bronze",
        500,
    )
    assert document["contact_id"] == view(local, WHO)["contact_id"]

    # an unknown customer is one line and status 2, in either format
    for how in ("table", "json"):
        line = one_error_line(
            comeback("contacts", "show", "--local", local.base, "demo", "nobody", "--format", how)
        )
        assert line == "comeback contacts show: no contact 'nobody' in shop 'demo'"
