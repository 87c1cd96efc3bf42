"""`comeback contacts show`'s table: the contact view (comeback.domain.views) as a person reads it.

Blocks of aligned plain text (no colour): who (the email masked as the logs mask it, never the
name), reach, orders, loyalty (points, tier and the way to the next, the ledger's last entries),
rewards and each recipe's next due time. Every field may be missing or null (an older view, a shop
with loyalty off): it then reads `-`. `--format json` prints the view itself, for scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from comeback.cli import rewards
from comeback.cli.tables import columns

LEDGER_SHOWN = 10
MASKED = "<redacted-email>"


def mask_email(email: str | None) -> str:
    """The address as the logs show it (comeback.app.observability.redact); never in clear."""
    if not email:
        return "-"
    from comeback.app.observability import redact

    masked = redact(email)
    return masked if masked != email else MASKED  # an address the pattern misses is masked whole


def when(value: Any) -> str:
    """An ISO timestamp as `2026-01-05 03:00 UTC`; `-` for none; anything else as it is."""
    if not value:
        return "-"
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if stamp.tzinfo is None:
        return stamp.strftime("%Y-%m-%d %H:%M")
    return stamp.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def money(minor: Any, currency: Any) -> str:
    """An amount in its currency (`¥4,980`, `$49.80`); `-` without a currency to say it in."""
    if minor is None or not currency:
        return "-" if not minor else _number(minor)
    return rewards.money(int(minor), str(currency))


def _yes(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "-" if value is None else str(value)


def _fields(pairs: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    return [indent + line for line in columns(pairs)]


def _header(view: Mapping[str, Any]) -> list[str]:
    subscribed = _yes(view.get("subscribed"))
    why = (view.get("consent") or {}).get("why")
    if why and view.get("subscribed") is False:
        subscribed += f" ({why})"
    suppressed = _yes(view.get("suppressed"))
    if view.get("suppression"):
        suppressed += f" ({view['suppression']})"
    pairs = [
        ("shop", str(view.get("shop_id") or "-")),
        ("customer", str(view.get("customer_id") or "-")),
        ("contact", str(view.get("contact_id") or "-")),
        ("email", mask_email(view.get("email"))),
        ("stage", str(view.get("stage") or "-")),
        ("tags", ", ".join(view.get("tags") or []) or "-"),
        ("subscribed", subscribed),
        ("suppressed", suppressed),
    ]
    rfm = view.get("rfm")
    if isinstance(rfm, Mapping) and rfm.get("segment"):
        pairs.append(("rfm", f"{rfm['segment']} (R{rfm.get('recency')} F{rfm.get('frequency')} "
                             f"M{rfm.get('monetary')})"))  # fmt: skip
    if view.get("erased"):
        pairs.append(("erased", "yes"))
    return ["contact", *_fields(pairs)]


def _orders(view: Mapping[str, Any]) -> list[str]:
    currency = view.get("currency")
    pairs = [
        ("orders", _number(view.get("orders_count"))),
        ("total spent", money(view.get("total_spent_minor"), currency)),
        ("first order", when(view.get("first_order_at"))),
        ("last order", when(view.get("last_order_at"))),
        ("last activity", when(view.get("last_activity_at"))),
    ]
    if view.get("refunds_count"):
        pairs.insert(1, ("refunds", _number(view["refunds_count"])))
    return ["orders", *_fields(pairs), *_predictions(view)]


def _predictions(view: Mapping[str, Any]) -> list[str]:
    """The shop model's predictions for the contact (null until the shop has enough history)."""
    if view.get("p_alive") is None:
        return ["  predictions: none yet (the shop's model needs more history, or no order)"]
    alive = f"{float(view['p_alive']):.0%}"
    if view.get("p_alive_basis") == "one_time_buyer":
        alive += " (one-time buyer: first-order dropout, see docs/predictions.md)"
    confidence = str(view.get("prediction_confidence") or "-")
    pairs = [
        ("p(alive)", alive),
        ("orders, next 90 days", f"{float(view.get('expected_orders_90d') or 0):.2f}"),
        ("CLV, next 365 days", money(view.get("predicted_clv_365d"), view.get("currency"))),
        ("next order expected", when(view.get("expected_next_order_at"))),
        ("confidence", confidence),
    ]
    return ["  predictions", *_fields(pairs, indent="    ")]


def _to_next(view: Mapping[str, Any], loyalty: Mapping[str, Any]) -> str:
    """`120 points to gold` (or `¥5,000 to gold` on a spend basis); `top tier` at the top."""
    upper = loyalty.get("next_tier")
    left = view.get("points_to_next_tier", loyalty.get("to_next_tier"))
    if not upper:
        return "none (the top tier)" if view.get("tier") else "-"
    if left is None:
        return f"{upper}"
    if str(loyalty.get("tier_basis") or "").startswith("spend"):
        return f"{money(left, view.get('currency'))} to {upper}"
    return f"{_number(left)} points to {upper}"


def _tier(view: Mapping[str, Any], loyalty: Mapping[str, Any]) -> str:
    tier = str(view.get("tier") or "-")
    perks = []
    multiplier = loyalty.get("multiplier")
    if multiplier not in (None, "1", "1.0", 1):
        perks.append(f"points x{multiplier}")
    if loyalty.get("free_shipping"):
        perks.append("free shipping")
    return tier + (f" ({', '.join(perks)})" if perks else "")


def _until(loyalty: Mapping[str, Any]) -> str:
    """The next requalification; a lifetime basis has none (only a refund moves the contact down)."""
    until = loyalty.get("tier_until")
    if until is None and loyalty.get("tier_basis") == "lifetime_points":
        return "- (lifetime points: no requalification)"
    return when(until)


def _store_credit(view: Mapping[str, Any]) -> str | None:
    """The open store credit the view adds up (None: the contact has none)."""
    credit = view.get("store_credit")
    if not isinstance(credit, Mapping):
        return None
    codes = int(credit.get("codes") or 0)
    worth = money(int(credit["balance_minor"]), str(credit["currency"]))
    return f"{worth} unused ({codes} {'code' if codes == 1 else 'codes'})"


def _loyalty(view: Mapping[str, Any]) -> list[str]:
    loyalty = view.get("loyalty")
    if not isinstance(loyalty, Mapping):
        return ["loyalty", "  off (the shop's playbook turns the program off)"]
    expiring = loyalty.get("expiring")
    member = _yes(loyalty.get("member"))
    if loyalty.get("member") and loyalty.get("member_since"):
        member += f", since {when(loyalty['member_since'])}"
    pairs = [
        ("member", member),
        ("points", _number(view.get("points_balance"))),
        ("pending", _number(view.get("points_pending"))),
        ("lifetime", _number(view.get("lifetime_points"))),
        ("debt", _number(loyalty.get("debt"))),
        ("tier", _tier(view, loyalty)),
        ("next tier", _to_next(view, loyalty)),
        ("tier since", when(loyalty.get("tier_since"))),
        ("tier until", _until(loyalty)),
        (
            "expiring",
            f"{_number(expiring.get('points'))} points at {when(expiring.get('at'))}"
            if isinstance(expiring, Mapping)
            else "-",
        ),
    ]
    credit = _store_credit(view)
    if credit:
        pairs.append(("store credit", credit))
    lines = ["loyalty", *_fields(pairs)]
    entries = list(loyalty.get("entries") or [])
    shown = entries[-LEDGER_SHOWN:]  # the view keeps them oldest first: the newest is last
    if not shown:
        return [*lines, "  ledger: no entries yet"]
    count = f"{len(entries)} {'entry' if len(entries) == 1 else 'entries'}"
    label = f"last {len(shown)} of {count}" if len(entries) > len(shown) else count
    rows = [["at", "kind", "points", "cause"]]
    for entry in shown:
        kind, cause = entry.get("kind") or "-", entry.get("cause") or "-"
        rows.append([when(entry.get("at")), str(kind), _number(entry.get("points")), str(cause)])
    ledger = ["    " + line for line in columns(rows, right={2})]
    return [*lines, f"  ledger ({label}, newest last)", *ledger]


def _rewards(view: Mapping[str, Any]) -> list[str]:
    listed = view.get("rewards") or []
    if not listed:
        return ["rewards", "  none"]
    blank = {
        "code": "-",
        "type": "-",
        "state": "-",
        "issued_at": "-",
        "expires_at": "-",
        "recipe": "-",
        "step": "",
    }
    # the `comeback rewards list` table: code, type, worth (value or percent), state, dates, recipe
    filled = [{**blank, **{k: v for k, v in r.items() if v is not None}} for r in listed]
    return ["rewards", *("  " + line for line in rewards.table(filled))]


def _recipes(view: Mapping[str, Any]) -> list[str]:
    recipes = view.get("recipes")
    if not isinstance(recipes, Mapping) or not recipes:
        return ["recipes", "  -"]
    on = [(name, r) for name, r in recipes.items() if isinstance(r, Mapping) and r.get("enabled", True)]
    off = sorted(name for name, r in recipes.items() if isinstance(r, Mapping) and not r.get("enabled", True))
    # the soonest first; those with nothing due after them
    on.sort(key=lambda pair: (pair[1].get("next_due_at") is None, str(pair[1].get("next_due_at")), pair[0]))
    rows = [["recipe", "next due"], *([name, when(r.get("next_due_at"))] for name, r in on)]
    lines = ["recipes", *_fields(rows)]
    if off:
        lines.append(f"  off: {', '.join(off)}")
    return lines


def render_contact(view: Mapping[str, Any]) -> str:
    """The contact view as aligned plain text; ends with a newline."""
    blocks = [_header(view), _orders(view), _loyalty(view), _rewards(view), _recipes(view)]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
