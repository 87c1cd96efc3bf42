"""Upsell: upgrades of what a customer bought, `after_days` after the order (campaign `upsell`).

The cross-sell recipe (`comeback.recipes.crosssell`) with the shop's own map only: `products`
(a product id -> its upgrades) and `categories` (a category -> upgrades). Which product is a
step up from another is the shop's knowledge: co-occurrence cannot tell it (products bought
together are rarely one another's upgrade), so without a map this recipe sends nothing. It
ships off; a shop turns it on with its map. Never an upgrade the customer already bought; once
per order (the latest one); shown as product blocks from the shop's catalogue.

State (`Profile.recipes["upsell"]`): as cross-sell's.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from comeback.recipes.crosssell import SuggestingRecipe, Suggestions

NAME = "upsell"


class Upsell(Suggestions):
    enabled: bool = False
    after_days: Annotated[int, Field(ge=1, le=365)] = 30


class UpsellRecipe(SuggestingRecipe):
    name: ClassVar[str] = NAME
    priority = 4
    section_key = NAME
    settings_model = Upsell


RECIPE = UpsellRecipe()
