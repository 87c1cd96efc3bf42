"""Settings for every test layer."""

from __future__ import annotations

import pytest

from comeback.local import offline_environment

# Powertools: no EMF documents or X-Ray outside Lambda; quiet logs unless a test captures them.
offline_environment("comeback-tests")


# The files that take minutes, longest first. `pytest -n 2 --dist loadfile` hands files to the two
# workers in collection order, so these go first: collected last (as their names sort), one of
# them ran alone on one worker for minutes while the other sat idle.
SLOWEST_FIRST = (
    "tests/e2e/test_demo_reproducible.py",
    "tests/e2e/test_winback_lift.py",
    "tests/e2e/test_recipes.py",
    "tests/e2e/test_persistence.py",
    "tests/e2e/test_loyalty.py",
    "tests/integration/test_sweep_interleavings.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its order
