"""Cart and browse abandonment over HTTP against `comeback local serve`: a cart's two reminders (1 and
24 hours after the change, its lines and its link, once each although the event came twice), no
reminder after an order or for an emptied cart, a browse reminder 24 hours after a product's
repeated views (none for a single look), and the interest tag the views earn."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, steps, sweep, view
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e

ON = {"demo": {"cart": {"enabled": True}, "browse": {"enabled": True}}}


def customer(customer_id: str) -> dict[str, Any]:
    data = {"first_name": customer_id.title(), "locale": "en", "accepts_marketing": True}
    stamp = (at_day(0) - timedelta(hours=1)).isoformat()
    who = person(customer_id)
    return shop_event("customer.updated", id=f"u-{customer_id}", occurred_at=stamp, customer=who, data=data)


def cart(customer_id: str, n: int, minutes: float, *items: dict[str, Any]) -> dict[str, Any]:
    data = {"cart_id": f"k-{customer_id}", "currency": "JPY", "items": list(items),
            "url": f"https://shop.example.com/cart/k-{customer_id}"}  # fmt: skip
    stamp = (at_day(0) + timedelta(minutes=minutes)).isoformat()
    who = person(customer_id)
    return shop_event("cart.updated", id=f"c-{customer_id}-{n}", occurred_at=stamp, customer=who, data=data)


def line(name: str, price: str = "1200", quantity: int = 1) -> dict[str, Any]:
    slug = name.lower().replace(" ", "-")
    return {"product_id": slug, "name": name, "category": "tea", "price": price, "quantity": quantity,
            "image_url": f"https://cdn.example.com/{slug}.jpg"}  # fmt: skip


def viewed(customer_id: str, n: int, minutes: float, product: str = "p7") -> dict[str, Any]:
    data = {"product_id": product, "name": "Tokoname kyusu", "category": "teaware", "price": "6800",
            "currency": "JPY", "url": f"https://shop.example.com/products/{product}"}  # fmt: skip
    stamp = (at_day(0) + timedelta(minutes=minutes)).isoformat()
    who = person(customer_id)
    return shop_event("product.viewed", id=f"v-{customer_id}-{n}", occurred_at=stamp, customer=who, data=data)


def test_cart_and_browse_reminders_come_on_time_once_and_stop_at_an_order_or_an_emptied_cart(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, ON) as local:
        people = ["cleo", "dan", "eve", "finn", "gus"]
        send(local, [customer(p) for p in people])
        reminded = cart("cleo", 1, 0, line("Sencha", quantity=2), line("Bamboo strainer", "800"))
        send(local, [
            reminded,
            cart("dan", 1, 0, line("Sencha")), order("o-dan", (at_day(0) + timedelta(minutes=30)).isoformat(),
                                                      person("dan")),
            cart("eve", 1, 0, line("Sencha")), cart("eve", 2, 10),  # emptied ten minutes later
            viewed("finn", 1, 0), viewed("finn", 2, 5), viewed("finn", 3, 9),
            viewed("gus", 1, 0),
        ])  # fmt: skip
        send(local, [reminded])  # the shop retries: the same id changes nothing

        day(local, 0, hours=1.2)  # an hour and a bit after the cart change
        sweep(local)
        (first,) = mail(local, "cleo")
        assert (first["campaign"], first["step"]) == ("cart", 1)
        assert "Sencha" in first["text"] and "Bamboo strainer" in first["text"]
        assert "https://shop.example.com/cart/k-cleo" in first["text"]
        assert "https://cdn.example.com/sencha.jpg" in first["html"]
        assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        next_due = view(local, "cleo")["recipes"]["cart"]["next_due_at"]
        assert next_due.startswith("2026-01-06T03:00:00")  # 24 hours after the change (12:00 in Tokyo)

        day(local, 1, hours=1.5)
        sweep(local)
        sweep(local)  # a second sweep finds nothing more to send
        assert steps(mail(local, "cleo")) == [("cart", 1), ("cart", 2)]
        assert mail(local, "dan") == [] and mail(local, "eve") == [] and mail(local, "gus") == []
        (browse,) = mail(local, "finn")
        assert (browse["campaign"], browse["step"]) == ("browse", 1)
        assert "Tokoname kyusu" in browse["text"] and "https://shop.example.com/products/p7" in browse["text"]
        finn = view(local, "finn")
        assert "interest:teaware" in finn["tags"]
        assert finn["recipes"]["browse"]["next_due_at"] is None
        assert "interest:teaware" not in view(local, "gus")["tags"]  # one look is not an interest
