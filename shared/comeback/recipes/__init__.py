"""Retention recipes: one module each, all implementing `comeback.recipes.base.Recipe`."""
