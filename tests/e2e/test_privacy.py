"""Shopify's privacy topics over HTTP against `comeback local serve`, and `comeback contacts` on it.

Each topic is a signed Shopify delivery (base64 HMAC-SHA256 of the raw body in
X-Shopify-Hmac-Sha256, with X-Shopify-Topic, -Webhook-Id and -Triggered-At) with the payload of
Shopify's documentation (events/platforms): customers/redact erases the customer,
customers/data_request mails the export to the shop's team (seen in /_local/outbox), shop/redact
erases every contact of that shop and none of another's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from comeback.local.launch import local_serve
from tests.e2e.conftest import Client, free_port
from tests.support import EVENTS, ROOT

pytestmark = pytest.mark.e2e

SECRETS = {"acme": "shpss_acme_privacy", "bravo": "shpss_bravo_privacy"}
TEAM = "privacy@shop.example.com"
FIXTURES = EVENTS / "platforms"  # real payloads, kept in the repository


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    playbook = tmp_path_factory.mktemp("privacy") / "acme.yaml"
    playbook.write_text(f'shop:\n  name: "Acme Tea"\n  team_email: "{TEAM}"\n', encoding="utf-8")
    flags = ["--shop", "acme:whsec_YWNtZS1zZWNyZXQ=", "--shop", "bravo:whsec_YnJhdm8tc2VjcmV0"]
    flags += ["--playbook", f"acme={playbook}"]
    for shop, secret in SECRETS.items():
        flags += ["--platform-secret", f"{shop}:shopify:{secret}"]
    with local_serve("--port", str(free_port()), "--start", "2026-01-05T12:00:00+09:00", *flags) as base:
        yield Client(base)


def shopify(
    local: Client, shop: str, topic: str, payload: dict[str, Any], webhook_id: str, secret: str | None = None
) -> int:
    body = json.dumps(payload).encode()
    digest = hmac.new((secret or SECRETS[shop]).encode(), body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": f"{shop}.myshopify.com",
        "X-Shopify-API-Version": "2025-10",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2026-01-05T02:00:00.000000Z",
    }
    status, _ = local.call("POST", f"/v1/shops/{shop}/webhooks/shopify", body, headers)
    local.post("/_local/drain")
    return status


def seed_customer(local: Client, shop: str, customer_id: int, email: str) -> None:
    customer = {
        "id": customer_id,
        "email": email,
        "first_name": "John",
        "last_name": "Smith",
        "phone": "555-625-1199",
        "created_at": "2025-11-01T10:00:00+09:00",
        "updated_at": "2025-11-01T10:00:00+09:00",
        "email_marketing_consent": {"state": "subscribed", "opt_in_level": "single_opt_in"},
    }
    assert shopify(local, shop, "customers/create", customer, f"create-{shop}-{customer_id}") == 202
    order = {
        "id": 299938 + customer_id,
        "email": email,
        "created_at": "2025-12-01T10:00:00+09:00",
        "currency": "JPY",
        "total_price": "4980",
        "customer": {"id": customer_id, "email": email},
        "line_items": [{"id": 1, "product_id": 77, "title": "Sencha", "price": "4980", "quantity": 1}],
    }
    assert shopify(local, shop, "orders/create", order, f"order-{shop}-{customer_id}") == 202


def view(local: Client, shop: str, customer: str) -> dict[str, Any] | None:
    status, body = local.call("GET", f"/_local/contacts/{shop}/{customer}")
    assert status in (200, 404), (status, body)
    return body if status == 200 else None


def cli(local: Client, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comeback.cli", "contacts", *args, "--local", local.base],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_data_request_mails_the_export_to_the_team_and_the_cli_prints_it(local: Client) -> None:
    seed_customer(local, "acme", 191167, "john@example.com")
    before = len(local.get("/_local/outbox"))
    payload = fixture("shopify_customers_data_request.json")
    assert shopify(local, "acme", "customers/data_request", payload, "dr-1") == 202
    assert shopify(local, "acme", "customers/data_request", payload, "dr-1") == 202  # redelivered

    [mail] = local.get("/_local/outbox")[before:]
    assert mail["to"] == TEAM and "191167" in mail["subject"]
    assert "List-Unsubscribe" not in mail["headers"]
    assert "Contact found: yes" in mail["text"] and "comeback contacts export acme 191167" in mail["text"]

    printed = cli(local, "export", "acme", "191167")
    assert printed.returncode == 0, printed.stderr
    export = json.loads(printed.stdout)
    kinds = sorted(i["sk"].split("#")[0] for i in export["items"])
    # N: the contact's stage change (new -> active), a line of its activity like the events
    assert kinds == ["EVT", "EVT", "N", "PROFILE"] and export["aliases"][0]["email"] == "john@example.com"
    assert f"Items held: {len(export['items'])}, email aliases: 1" in mail["text"]


def test_customers_redact_erases_the_customer(local: Client) -> None:
    seed_customer(local, "acme", 191168, "jane@example.com")
    payload = fixture("shopify_customers_redact.json")
    payload["customer"] = {"id": 191168, "email": "jane@example.com", "phone": "555-625-1199"}
    assert shopify(local, "acme", "customers/redact", payload, "redact-1") == 202
    erased = view(local, "acme", "191168")
    assert erased is not None and not erased.get("email") and erased["orders_count"] == 0
    assert view(local, "acme", "jane@example.com") is None  # the alias is gone
    printed = cli(local, "export", "acme", "191168")
    assert "jane@example.com" not in printed.stdout and "Smith" not in printed.stdout


def test_contacts_erase_from_the_cli_erases_through_the_contacts_queue(local: Client) -> None:
    seed_customer(local, "acme", 191169, "kim@example.com")
    done = cli(local, "erase", "acme", "kim@example.com")
    assert done.returncode == 0, done.stderr
    assert "erasure of kim@example.com in shop acme requested" in done.stdout
    local.post("/_local/drain")
    erased = view(local, "acme", "191169")
    assert erased is not None and not erased.get("email")
    missing = cli(local, "export", "acme", "nobody@example.com")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_shop_redact_erases_every_contact_of_that_shop_only(local: Client) -> None:
    for n in range(5):
        seed_customer(local, "bravo", 500 + n, f"bravo{n}@example.com")
    seed_customer(local, "acme", 191170, "stays@example.com")
    payload = fixture("shopify_shop_redact.json")
    # another shop's secret is refused, and erases nothing
    assert shopify(local, "bravo", "shop/redact", payload, "shop-1", secret=SECRETS["acme"]) == 401
    assert view(local, "bravo", "bravo0@example.com") is not None

    assert shopify(local, "bravo", "shop/redact", payload, "shop-1") == 202
    for n in range(5):
        assert view(local, "bravo", f"bravo{n}@example.com") is None
        erased = view(local, "bravo", str(500 + n))
        assert erased is not None and not erased.get("email") and erased["orders_count"] == 0
    kept = view(local, "acme", "191170")
    assert kept is not None and kept["email"] == "stays@example.com" and kept["orders_count"] == 1
    assert shopify(local, "bravo", "shop/redact", payload, "shop-1") == 202  # redelivery: harmless
    assert local.get("/_local/dead-letters") == {} or not any(local.get("/_local/dead-letters").values())
