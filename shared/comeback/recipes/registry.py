"""Which recipes exist: the shipped ones, and a shop's own (or a test's) named in the environment.

The engine, the contacts function, the sweep, the sender and the playbook know recipes only
through this list and the `Recipe` interface: a new recipe is a module with a `RECIPE`, its
templates and its playbook section, added to `SHIPPED`.

`COMEBACK_EXTRA_RECIPES` names more modules (comma-separated import paths, each with a `RECIPE`):
an infra team's own recipe ships in the Lambda layer beside ours without a fork.
"""

from __future__ import annotations

import importlib
import os
from functools import cache
from typing import TYPE_CHECKING

from comeback.recipes.base import Recipe

if TYPE_CHECKING:
    from comeback.domain.playbook import Playbook
    from comeback.recipes.base import RecipeSettings

# Order matters when several come due at once: later recipes see what earlier ones decided (the
# lifecycle stage reads the win-back drip's sunset), so the stage recipe comes last.
SHIPPED = (
    "comeback.recipes.winback",
    "comeback.recipes.expiry",
    "comeback.recipes.loyalty",
    "comeback.recipes.birthday",
    "comeback.recipes.anniversary",
    "comeback.recipes.welcome",
    "comeback.recipes.survey",
    "comeback.recipes.cart",
    "comeback.recipes.browse",
    "comeback.recipes.crosssell",
    "comeback.recipes.upsell",
    "comeback.recipes.engagement",
    "comeback.recipes.nps",
    "comeback.recipes.stages",
)
EXTRA_ENV = "COMEBACK_EXTRA_RECIPES"


@cache
def _load(extra: str) -> tuple[Recipe, ...]:
    names = [*SHIPPED[:-1], *(n.strip() for n in extra.split(",") if n.strip()), SHIPPED[-1]]
    recipes: list[Recipe] = []
    for name in names:
        recipe = getattr(importlib.import_module(name), "RECIPE", None)
        if not isinstance(recipe, Recipe):
            raise LookupError(f"{name} has no RECIPE (a comeback.recipes.base.Recipe)")
        if any(r.name == recipe.name or r.section_key == recipe.section_key for r in recipes):
            raise LookupError(f"recipe {recipe.name!r} ({name}) is defined twice")
        recipes.append(recipe)
    return tuple(recipes)


def all_recipes() -> tuple[Recipe, ...]:
    return _load(os.environ.get(EXTRA_ENV, ""))


def sections() -> dict[str, type[RecipeSettings]]:
    return {r.section_key: r.settings_model for r in all_recipes()}


def get(campaign: str) -> Recipe | None:
    """The recipe a campaign's messages come from: the one it is named after, else one that sends it."""
    recipes = all_recipes()
    return next((r for r in recipes if r.name == campaign), None) or next(
        (r for r in recipes if campaign in r.campaigns), None
    )


def enabled(playbook: Playbook) -> tuple[Recipe, ...]:
    return tuple(r for r in all_recipes() if r.enabled(playbook))
