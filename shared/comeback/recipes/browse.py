"""Browse abandonment (campaign `browse`): a reminder of a product viewed again and not bought.

24 hours after the last product view (`after_hours` of the first step), if that product was viewed
at least `min_views` times (2) in the last `views_within_days` days and nothing was ordered since,
the contact gets one email showing it. Any view moves the due time to its own time + 24 hours (a
pure function of the event, so the contacts function moves it in its one write); whether the views
add up to a reminder is counted when it comes due, from the profile's per-day view counters
(`Profile.browsed`, `comeback.domain.interest`). An order ends it, at send time too.

Shops may add a second step; an offer may ride on the second step or later only ("naked" first:
most people who come back to a product need a nudge, not a discount). A product reminded of is
not reminded of again within `once_per_product_days`, and a product waiting in the contact's cart
is left to the cart reminder.

The section also holds `interest`: when a category's views tag the contact (`interest:tea`), a
derived tag of the contact view (`comeback.domain.interest.interest_tags`), nothing stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ProductViewed, ShopEvent
from comeback.domain.interest import InterestRules, views_of
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.recipes.abandonment import Abandonment, AbandonmentSettings, Reminder, minor_units
from comeback.recipes.base import state_of
from comeback.recipes.cart import cart_of

NAME = "browse"


class Browse(AbandonmentSettings):
    steps: list[Reminder] = [Reminder(after_hours=24)]
    # views of one product, in the last `views_within_days` days, that make a reminder
    min_views: Annotated[int, Field(ge=1, le=100)] = 2
    views_within_days: Annotated[int, Field(ge=1, le=90)] = 14
    once_per_product_days: Annotated[int, Field(ge=0, le=365)] = 30
    interest: InterestRules = InterestRules()

    @model_validator(mode="after")
    def _naked_first(self) -> Browse:
        if self.steps[0].offer is not None:
            raise ValueError("the first browse reminder carries no offer (an offer may ride on the second)")
        return self


def settings(playbook: Playbook) -> Browse:
    section = playbook.section(NAME)
    assert isinstance(section, Browse)
    return section


def _product(profile: Profile, playbook: Playbook) -> dict[str, Any] | None:
    viewed = profile.last_viewed
    if not viewed or not viewed["v"].get("product_id"):
        return None
    product = viewed["v"]
    shown: dict[str, Any] = {
        k: product[k] for k in ("product_id", "name", "url", "image_url") if k in product
    }
    currency = str(product.get("currency") or playbook.shop.currency)
    price = minor_units(product["price"], currency) if product.get("price") is not None else None
    if price is not None:
        shown.update({"price": price, "currency": currency})
    return shown


class BrowseRecipe(Abandonment):
    name: ClassVar[str] = NAME
    section_key = NAME
    settings_model = Browse
    superseded = "browsed_again"

    def basis(self, profile: Profile, playbook: Playbook) -> str | None:
        return profile.last_viewed["at"] if profile.last_viewed else None

    def starts(self, event: ShopEvent) -> bool | None:
        return True if isinstance(event, ProductViewed) else None

    def content(
        self, profile: Profile, playbook: Playbook, step: int, now: datetime
    ) -> tuple[dict[str, Any] | None, str | None, dict[str, Any]]:
        rules = settings(playbook)
        product = _product(profile, playbook)
        basis = self.basis(profile, playbook)
        if product is None or basis is None:
            return None, None, {}
        pid = product["product_id"]
        views = views_of(profile, "p", pid, parse_iso(basis), rules.views_within_days)
        if views < rules.min_views:
            return None, None, {}  # a look, not an interest: nothing to say (and nothing to report)
        cart = cart_of(profile)
        if cart is not None and pid in cart.get("products", []):
            return None, "in_cart", {}  # the cart reminder shows it
        state = state_of(profile, NAME)
        reminded = state.get("reminded_at") if state.get("product") == pid else None
        if step == 1 and reminded and now - parse_iso(reminded) < timedelta(days=rules.once_per_product_days):
            return None, "reminded_recently", {}
        keep = {"product": pid, "reminded_at": isoformat(now)} if step == 1 else {}
        return {"products": [product], "views": views}, None, keep


RECIPE = BrowseRecipe()
