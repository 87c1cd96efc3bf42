"""Recipes that exist only for tests: registered through `COMEBACK_EXTRA_RECIPES`."""
