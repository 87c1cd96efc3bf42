"""Contacts as the engine leaves them, to seed a bench table directly in the stored format.

Applying 100,000 contacts' events through the contacts function on moto takes longer than the
bench may. So a few hundred *template* contacts live their history through the engine in pure
Python (each event merged and asked of every enabled recipe at its time, and an hourly sweep at
every due time in between, with rewards issued in an in-memory ledger), and the table is filled
with copies of them under other ids. Each copy goes in through `ContactStore.profile_item`, which
computes its `dues` and `due_at` as the contacts function would: a copy of a due template is due.

"Due" means what an hourly sweep finds: a recipe's due time fell in the hour since the last sweep.
Every template is swept up to an hour before `now`; the due ones are built so that one recipe
(win-back step 1 or 2, or a stage change) comes due within that last hour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from comeback.app.effects import carry_out
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent, parse_event
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile, apply, empty
from comeback.recipes import engine
from tests.fakes.reward_store import InMemoryRewardStore

HOUR = timedelta(hours=1)


def customer_updated(event_id: str, at: datetime, contact: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "customer.updated",
        "occurred_at": isoformat(at),
        "customer": {"id": contact, "email": f"{contact}@example.com"},
        "data": {"first_name": "Hanako", "last_name": "Yamada", "locale": "ja", "accepts_marketing": True},
    }


def order_placed(event_id: str, at: datetime, contact: str, total: int = 4980) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "order.placed",
        "occurred_at": isoformat(at),
        "customer": {"id": contact},
        "data": {"order_id": event_id, "total": str(total), "currency": "JPY",
                 "items": [{"product_id": "p1", "category": "tea", "price": str(total), "quantity": 1}]},
    }  # fmt: skip


def product_viewed(event_id: str, at: datetime, contact: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "product.viewed",
        "occurred_at": isoformat(at),
        "customer": {"id": contact},
        "data": {"product_id": "p2", "name": "Sencha", "category": "tea"},
    }


def _swept(profile: Profile, playbook: Playbook, until: datetime, ledger: InMemoryRewardStore) -> Profile:
    """The profile after the hourly sweeps up to `until` (each at the first hour after a due time)."""
    for _ in range(100):  # a recipe's plan moves its due time on; 100 bounds a bug, not a history
        dues = [parse_iso(at) for at in profile.dues.values()]
        if not dues or min(dues) > until:
            return profile
        at = min(dues).replace(minute=0, second=0, microsecond=0) + HOUR
        outcome = engine.plan_due(profile, playbook, at)
        carry_out(outcome, playbook, at, ledger)
        profile = outcome.profile
    raise RuntimeError(f"{profile.contact_id}: still due after 100 sweeps")


def lived(
    contact: str, events: list[dict[str, Any]], playbook: Playbook, until: datetime, shop: str = "demo"
) -> Profile:
    """The profile the engine keeps for `events`, swept hourly up to `until`."""
    ledger = InMemoryRewardStore()
    profile: Profile | None = None
    for body in sorted(events, key=lambda b: b["occurred_at"]):
        event = cast(ShopEvent, parse_event(body))
        at = event.occurred_at
        if profile is not None:
            profile = _swept(profile, playbook, at, ledger)
        before = profile
        after = apply(profile or empty(shop, contact, contact), event)
        profile = engine.on_event(before, after, event, playbook, at).profile
    assert profile is not None
    return _swept(profile, playbook, until, ledger)


@dataclass(frozen=True)
class Templates:
    due: list[Profile]  # a recipe comes due in the hour before `now`
    calm: list[Profile]  # nothing due until after `now`


def earliest(profile: Profile) -> datetime | None:
    return min((parse_iso(at) for at in profile.dues.values()), default=None)


def history(rng: random.Random, contact: str, now: datetime, last_order_days: float) -> list[dict[str, Any]]:
    """A customer who signed up, ordered 1 to 4 times (the last `last_order_days` ago) and viewed."""
    last = now - timedelta(days=last_order_days)
    orders = rng.randint(1, 4)
    first = last - timedelta(days=rng.uniform(0, 300) if orders > 1 else 0)
    signed_up = first - timedelta(days=rng.uniform(0, 30))
    events = [customer_updated(f"{contact}-u", signed_up, contact)]
    for n in range(orders):
        at = first + (last - first) * (n / max(orders - 1, 1))
        total = rng.choice((1980, 4980, 12800))  # one-time low spenders do not qualify for win-back
        events.append(order_placed(f"{contact}-o{n}", at, contact, total))
    if rng.random() < 0.5:
        events.append(product_viewed(f"{contact}-v", last + timedelta(days=rng.uniform(0, 5)), contact))
    return events


def templates(playbook: Playbook, now: datetime, count: int = 300, seed: int = 8) -> Templates:
    """`count` calm templates (last order 1 to 400 days ago) and due ones for each kind of due."""
    rng = random.Random(seed)
    swept_until = now - HOUR
    calm: list[Profile] = []
    due: list[Profile] = []
    attempts = 0
    while len(calm) < count:
        attempts += 1
        contact = f"t{attempts}"
        profile = lived(contact, history(rng, contact, now, rng.uniform(1, 400)), playbook, swept_until)
        at = earliest(profile)
        (calm if at is None or at > now else due).append(profile)
    # due on purpose: the last order (or view) just over 60 (at risk), 90 (win-back step 1) or 135
    # (step 2) days before `now`, so that a due time falls in the last hour
    for days in (60, 90, 135) * 20:
        attempts += 1
        contact = f"t{attempts}"
        back = timedelta(days=days) + timedelta(minutes=rng.uniform(1, 59))
        events = [customer_updated(f"{contact}-u", now - back - timedelta(days=400), contact)]
        events += [order_placed(f"{contact}-o{n}", now - back - timedelta(days=100 * n), contact, 4980)
                   for n in range(rng.randint(1, 3))]  # fmt: skip
        profile = lived(contact, events, playbook, swept_until)
        at = earliest(profile)
        if at is not None and swept_until < at <= now:
            due.append(profile)
    return Templates(due=due, calm=calm)


def copy_of(template: Profile, contact: str) -> Profile:
    """The template under another contact id (and address): its history, states and dues as they are."""
    email = dict(template.email) if template.email else None
    if email is not None:
        email["v"] = f"{contact}@example.com"
    return template.model_copy(update={"contact_id": contact, "customer_id": contact, "email": email})
