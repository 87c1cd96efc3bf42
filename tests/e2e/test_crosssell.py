"""Cross-sell over HTTP against `comeback local serve`: the shop's orders build what is bought
together, and a customer's order is followed 14 days later by one email (en or ja) of products that
go with it, as blocks (name, image, price, link), never one the customer bought, once per order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep
from tests.support import shop_event

pytestmark = pytest.mark.e2e

PRODUCTS = {
    "sencha": ("Sencha Asahi", "2400"),
    "kyusu": ("Tokoname kyusu", "6800"),
    "yunomi": ("Hagi yunomi", "3200"),
    "hojicha": ("Kaga hojicha", "1800"),
    "matcha": ("Uji matcha", "4500"),
}


def item(pid: str) -> dict[str, Any]:
    name, price = PRODUCTS[pid]
    links = {"url": f"https://shop.example.com/p/{pid}", "image_url": f"https://cdn.example.com/{pid}.jpg"}
    return {"product_id": pid, "name": name, "category": "tea", "price": price, "quantity": 1, **links}


def ordered(customer_id: str, order_id: str, days: float, products: list[str]) -> dict[str, Any]:
    total = str(sum(int(PRODUCTS[p][1]) for p in products))
    data = {"order_id": order_id, "total": total, "currency": "JPY", "items": [item(p) for p in products]}
    return shop_event("order.placed", id=order_id, occurred_at=at_day(days).isoformat(),
                      customer=person(customer_id), data=data)  # fmt: skip


def consented(customer_id: str, locale: str) -> dict[str, Any]:
    data = {"first_name": customer_id.title(), "locale": locale, "accepts_marketing": True}
    return shop_event("customer.updated", id=f"u-{customer_id}", occurred_at=at_day(0).isoformat(),
                      customer=person(customer_id), data=data)  # fmt: skip


def the_shops_orders() -> list[dict[str, Any]]:
    """What others bought: sencha with kyusu and yunomi (4 orders), with hojicha (3), with matcha (2:
    under the shipped support of 3)."""
    baskets = [["sencha", "kyusu", "yunomi"]] * 4 + [["hojicha", "sencha"]] * 3 + [["sencha", "matcha"]] * 2
    return [ordered(f"buyer{n}", f"shop-{n}", -20, basket) for n, basket in enumerate(baskets)]


def test_a_customer_gets_one_crosssell_email_of_what_others_bought_with_their_order(tmp_path: Path) -> None:
    playbook = {"crosssell": {"enabled": True, "holdout_percent": 0}}
    with serve(tmp_path, {"demo": playbook}) as local:
        send(local, the_shops_orders())
        # hanako bought a yunomi, then sencha the next day; yuki (in Japanese) sencha alone
        send(local, [consented("hanako", "en"), consented("yuki", "ja"),
                     ordered("hanako", "h-1", 0, ["yunomi"]), ordered("hanako", "h-2", 1, ["sencha"]),
                     ordered("yuki", "y-1", 1, ["sencha"])])  # fmt: skip
        send(local, [ordered("hanako", "h-2", 1, ["sencha"])])  # the shop retries: a duplicate

        day(local, 14)  # 14 days after hanako's first order: the second one replaced it
        sweep(local)
        assert [e["campaign"] for e in mail(local, "hanako")] == []

        day(local, 15)
        sweep(local)
        (email,) = mail(local, "hanako")
        assert (email["campaign"], email["step"], email["subject"]) == (
            "crosssell", 1, "Picked to go with your last order",
        )  # fmt: skip
        text, html = email["text"], email["html"]
        # the strongest pair first; yunomi was bought, matcha lacks support, sencha is the order itself
        assert text.index("Tokoname kyusu — ¥6,800") < text.index("Kaga hojicha — ¥1,800")
        assert "https://shop.example.com/p/kyusu" in text
        for absent in ("Hagi yunomi", "Uji matcha", "Sencha Asahi"):
            assert absent not in text and absent not in html
        assert (
            'src="https://cdn.example.com/kyusu.jpg"' in html
            and 'href="https://shop.example.com/p/hojicha"' in html
        )
        assert email["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        (japanese,) = mail(local, "yuki")
        assert "ご購入商品と一緒に楽しめるおすすめ" in japanese["subject"]
        assert "・Hagi yunomi　¥3,200" in japanese["text"] and "・Tokoname kyusu　¥6,800" in japanese["text"]

        day(local, 16)
        sweep(local)
        send(local, [ordered("hanako", "h-2", 1, ["sencha"])])
        day(local, 40)
        sweep(local)
        assert len(mail(local, "hanako")) == 1 and len(mail(local, "yuki")) == 1  # once per order
