"""Cart abandonment (campaign `cart`): reminders 1 hour and 24 hours after the last cart change.

A `cart.updated` or `checkout.started` with items starts the reminders at its time; a later change
starts them again from its own time (its due time is a pure function of the event, so the contacts
function moves it in its one write, with no read); a change that leaves the cart empty, or an
order at or after the change, ends them, at send time too (`still_wanted`). The reminder shows
the cart's lines (name, price, quantity, the image and link a line carries) and links back to the
cart's own URL when the event carried one. A reward rides only on the last reminder, if the
playbook gives one: an offer on the first would teach customers to leave carts for a code.

The cart is the profile's `last_cart` (the newest change wins, whatever order events arrive in).
See `comeback.recipes.abandonment` for the steps, their staleness and the state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import model_validator

from comeback.domain.events import CartUpdated, CheckoutStarted, ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.recipes.abandonment import Abandonment, AbandonmentSettings, Reminder, minor_units

NAME = "cart"


class Cart(AbandonmentSettings):
    steps: list[Reminder] = [Reminder(after_hours=1), Reminder(after_hours=24)]

    @model_validator(mode="after")
    def _offer_on_the_last_step_only(self) -> Cart:
        if any(step.offer for step in self.steps[:-1]):
            raise ValueError("only the last cart reminder may carry an offer")
        return self


def cart_of(profile: Profile) -> dict[str, Any] | None:
    """The contact's cart as of its last change, if it holds anything."""
    cart = profile.last_cart
    if not cart or not int(cart["v"].get("items", 0) or 0):
        return None
    return dict(cart["v"])


class CartRecipe(Abandonment):
    name: ClassVar[str] = NAME
    section_key = NAME
    settings_model = Cart
    superseded = "cart_changed"

    def basis(self, profile: Profile, playbook: Playbook) -> str | None:
        return profile.last_cart["at"] if cart_of(profile) is not None and profile.last_cart else None

    def starts(self, event: ShopEvent) -> bool | None:
        if isinstance(event, CartUpdated | CheckoutStarted):
            return sum(item.quantity for item in event.data.items) > 0
        return None

    def content(
        self, profile: Profile, playbook: Playbook, step: int, now: datetime
    ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any]]:
        cart = cart_of(profile)
        if cart is None:
            return None, None, {}
        currency = str(cart.get("currency") or playbook.shop.currency)
        items = []
        for line in cart.get("lines", []):
            item = {k: line[k] for k in ("product_id", "name", "quantity", "image_url", "url") if k in line}
            price = minor_units(line.get("price"), currency)
            if price is not None:
                item.update({"price": price, "currency": currency})
            items.append(item)
        data: dict[str, Any] = {"items": items, "items_count": int(cart.get("items", 0))}
        if cart.get("url"):
            data["cart_url"] = cart["url"]
        total = minor_units(cart["total"], currency) if cart.get("total") is not None else None
        if total is not None:
            data.update({"total": total, "currency": currency})
        return data, None, {}


RECIPE = CartRecipe()
