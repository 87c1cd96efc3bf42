"""Two more recipes for the benches, so that five are enabled as a shop with a few recipes has them.

Each is one module with a `RECIPE`, registered through `COMEBACK_EXTRA_RECIPES` like a shop's own
recipe would be, and turned on in the bench shop's playbook (`PLAYBOOK`). They ask different things
of the contacts function's fast path, as later recipes will:

- `replenish` (a reorder reminder N days after the latest order) knows its due time from the event
  alone: an order moves it exactly, every event keeps the contact on the one-write path;
- `orderversary` (a message a year after the first order) needs the stored state to know whether an
  order is the first one: the first order goes the slow path (read, then write), later ones do not.

They send nothing here (no templates ship for them): the benches count the writes events cost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager

from comeback.recipes import registry

MODULES = ("bench.recipes.replenish", "bench.recipes.orderversary")

# The bench shop's playbook: the shipped one (win-back, expiry, lifecycle) with these two on.
PLAYBOOK = json.dumps({"replenish": {"enabled": True}, "orderversary": {"enabled": True}})


@contextmanager
def registered() -> Iterator[None]:
    """The two bench recipes in the registry for the block's duration (this process), then gone."""
    previous = os.environ.get(registry.EXTRA_ENV)
    os.environ[registry.EXTRA_ENV] = ",".join(n for n in (previous, *MODULES) if n)
    registry._load.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(registry.EXTRA_ENV, None)
        else:
            os.environ[registry.EXTRA_ENV] = previous
        registry._load.cache_clear()
