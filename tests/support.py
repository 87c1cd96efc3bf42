"""Helpers every test layer shares: the sample events of `events/` and signed requests."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from comeback.app.signing import signed_headers

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
DEMO_SECRET = "whsec_ZGVtby1zZWNyZXQ="


def load_json(relative: str) -> Any:
    return json.loads((EVENTS / relative).read_text(encoding="utf-8"))


def shop_event(event_type: str, **changes: Any) -> dict[str, Any]:
    """The sample of `events/shop/{type}.json`, with top-level fields replaced."""
    event = copy.deepcopy(load_json(f"shop/{event_type}.json"))
    event.update(changes)
    return event


def order(
    event_id: str, at: str, customer: dict[str, Any], total: str = "4980", **data: Any
) -> dict[str, Any]:
    return shop_event(
        "order.placed",
        id=event_id,
        occurred_at=at,
        customer=customer,
        data={
            "order_id": event_id,
            "total": total,
            "currency": "JPY",
            "items": [{"product_id": "p1", "category": "tea", "price": total, "quantity": 1}],
            **data,
        },
    )


def signed(
    body: bytes, secret: str = DEMO_SECRET, at: int | None = None, msg_id: str = "msg_test"
) -> dict[str, str]:
    headers = signed_headers(secret, body, msg_id, int(time.time()) if at is None else at)
    headers["content-type"] = "application/json"
    return headers


# What a contact's events merge to. The recipes' states and due times are left out: they are
# decisions taken at the time each event arrived (a stage, a step), not a merge of the events.
NOT_MERGED = frozenset({"recipes", "dues"})


def merged(profile: Any, *exclude: str) -> dict[str, Any]:
    return profile.model_dump(exclude=set(NOT_MERGED | set(exclude)))


# The recipes that ask for emails of their own on a contact's ordinary events (a first consent, an
# order, a view): a test about one recipe turns the others off with `others_off(*kept)`, so its
# counts of asks and skips are about that recipe alone.
EVENT_RECIPES = (
    "anniversary", "welcome", "survey", "cart", "browse", "crosssell", "upsell", "engagement", "nps",
)  # fmt: skip


def others_off(*kept: str) -> dict[str, Any]:
    return {name: {"enabled": False} for name in EVENT_RECIPES if name not in kept}


def fitted_model(**changes: Any) -> Any:
    """A shop's prediction model, in memory: a customer orders about every four months while alive
    (BG/NBD r 0.25, alpha 30 days, dropout Beta(0.8, 2.5)), ¥3,500 an order (Gamma-Gamma)."""
    from comeback.domain.prediction_model import FitQuality, FittedModel

    fields: dict[str, Any] = {
        "r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.5, "p": 6.25, "q": 3.74, "v": 1534.0,
        "customers": 2000, "repeat_customers": 800, "history_days": 730.0,
        "fitted_at": "2026-01-01T00:00:00.000000Z", "log_likelihood": -1.0,
        "quality": FitQuality(histogram=[], histogram_mae=0.0, histogram_mae_share=0.0),
        "confidence": "normal", "qualifies": True,
    }  # fmt: skip
    return FittedModel(**{**fields, **changes})
