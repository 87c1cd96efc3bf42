"""Read models: how a contact looks to an operator, a test or the local runtime."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from comeback.domain import interest, predictions, segments
from comeback.domain.clock import isoformat
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import paused
from comeback.domain.rewards import Reward, RewardType
from comeback.recipes import browse, engagement, engine, loyalty, registry, stages, winback
from comeback.recipes.base import state_of


def is_subscribed(profile: Profile, playbook: Playbook) -> bool:
    """Would marketing email reach this contact (consent given, not unsubscribed)?"""
    if profile.is_unsubscribed:
        return False
    consent = profile.accepts_marketing
    return consent is True or (consent is None and playbook.consent == "opt_out")  # as reach.unreachable


def consent_view(profile: Profile, playbook: Playbook) -> dict[str, Any]:
    """Every consent signal with its source and time, and which one decides (one sentence).

    The shop's `accepts_marketing` is its record and is never rewritten by us; the recipient's own
    unsubscribe (one-click, preference page, spam complaint) wins over it until the recipient
    subscribes again on the preference page; a suppressed address gets nothing at all.
    """
    unsubscribed = profile.unsubscribed if profile.is_unsubscribed else None
    via = None
    if unsubscribed:
        via = "complaint" if unsubscribed["id"].startswith("ses:") else "preference_centre"
    subscribed = is_subscribed(profile, playbook)
    if profile.suppression == "bounce":
        why = "the address bounced permanently: nothing is sent to it"
    elif profile.suppression == "complaint":
        why = "the recipient reported an email as spam: unsubscribed and suppressed"
    elif unsubscribed:
        why = (
            "the recipient unsubscribed (one-click or preference page); that wins over the shop's "
            "accepts_marketing until they subscribe again on the preference page"
        )
    elif profile.accepts_marketing is False:
        why = "the shop reports no marketing consent"
    elif profile.accepts_marketing is None and not subscribed:
        why = "no consent recorded and the shop's playbook requires explicit consent"
    elif profile.accepts_marketing is None:
        why = "no consent recorded; the shop's playbook treats that as consent (opt-out)"
    else:
        why = "the shop reports marketing consent"
    return {
        "subscribed": subscribed,
        "why": why,
        "shop_accepts_marketing": profile.accepts_marketing,
        "shop_reported_at": profile.consent["at"] if profile.consent else None,
        "policy": playbook.consent,
        "recipient_unsubscribed": unsubscribed is not None,
        "unsubscribed_at": unsubscribed["at"] if unsubscribed else None,
        "unsubscribed_via": via,
        "suppressed": profile.suppression,
    }


def tags(profile: Profile, playbook: Playbook, now: datetime) -> list[str]:
    """The stage, customer or prospect, sunset, product interests, and the shop's own tags."""
    derived = [stages.current(profile, playbook, now), "customer" if profile.orders_count else "prospect"]
    if paused(profile):
        derived.append("sunset")
    derived += interest.interest_tags(profile, browse.settings(playbook).interest, now)
    shop_tags = profile.field("tags") or []
    return sorted(set(derived) | set(shop_tags))


def recipes_view(profile: Profile, playbook: Playbook) -> dict[str, Any]:
    """Each recipe's state and next due time, as the engine keeps them."""
    times = engine.due_times(profile, playbook)
    return {
        recipe.name: {
            "enabled": recipe.enabled(playbook),
            "state": state_of(profile, recipe.name),
            "next_due_at": isoformat(times[recipe.name]) if recipe.name in times else None,
        }
        for recipe in registry.all_recipes()
    }


def rfm_view(profile: Profile, playbook: Playbook, now: datetime) -> dict[str, Any] | None:
    """The contact's RFM quintiles in its shop now (None: not a buyer, or no segmentation yet)."""
    cuts = playbook.segmentation
    found = segments.scores(profile, cuts, now)
    if found is None or cuts is None:
        return None
    return {
        "recency": found.recency,
        "frequency": found.frequency,
        "monetary": found.monetary,
        "segment": found.segment,
        "computed_at": cuts.computed_at,
    }


PREDICTION_FIELDS = (
    "p_alive",
    "p_alive_basis",
    "expected_orders_90d",
    "predicted_clv_365d",
    "expected_next_order_at",
    "prediction_confidence",
)


def predictions_view(profile: Profile, playbook: Playbook, now: datetime) -> dict[str, Any]:
    """The contact's BG/NBD and Gamma-Gamma predictions now, from the shop's fitted model; all
    null until the shop has enough history (`comeback.domain.prediction_model`), or for a contact
    with no order. `p_alive_basis` "one_time_buyer": the one-time buyer correction (predictions)."""
    found = predictions.score(profile, playbook.predictions, now)
    if found is None:
        return dict.fromkeys(PREDICTION_FIELDS)
    return {
        "p_alive": found.p_alive,
        "p_alive_basis": found.p_alive_basis,
        "expected_orders_90d": found.expected_orders_90d,
        "predicted_clv_365d": found.predicted_clv_365d,
        "expected_next_order_at": found.expected_next_order_at,
        "prediction_confidence": found.confidence,
    }


def store_credit(rewards: Sequence[Reward], now: datetime) -> dict[str, int | str] | None:
    """What the contact's open store credit adds up to, per currency (None: none open).

    Each credit is a code worth its value, used whole when it comes back on an order: platforms do
    not tell us what part of a credit an order used, so a partly used credit counts as used."""
    totals: dict[str, int] = {}
    for reward in rewards:
        if reward.type is RewardType.STORE_CREDIT and reward.is_open(now) and reward.currency:
            totals[reward.currency] = totals.get(reward.currency, 0) + int(reward.value_minor or 0)
    if not totals:
        return None
    currency = max(totals, key=lambda c: (totals[c], c))
    return {"balance_minor": totals[currency], "currency": currency, "codes": sum(
        1 for r in rewards if r.type is RewardType.STORE_CREDIT and r.is_open(now) and r.currency == currency
    )}  # fmt: skip


def contact_view(
    profile: Profile, playbook: Playbook, now: datetime, rewards: Sequence[Reward] = ()
) -> dict[str, Any]:
    rfm = rfm_view(profile, playbook, now)
    return {
        "shop_id": profile.shop_id,
        "contact_id": profile.contact_id,
        "customer_id": profile.customer_id,
        "email": profile.email_address,
        "first_name": profile.field("first_name"),
        "last_name": profile.field("last_name"),
        "locale": profile.field("locale"),
        "timezone": profile.field("timezone"),
        "birthday": profile.field("birthday"),
        "orders_count": profile.orders_count,
        "refunds_count": profile.refunds_count,
        "total_spent_minor": profile.total_spent_minor,
        "currency": profile.currency,
        "average_order_value_minor": profile.average_order_value_minor,
        "first_order_at": profile.first_order_at,
        "last_order_at": profile.last_order_at,
        "first_seen_at": profile.first_seen_at,
        "last_activity_at": profile.last_activity_at,
        **loyalty.standing(profile, playbook, now),
        **engagement.standing(profile, playbook, now),
        "stage": stages.current(profile, playbook, now),
        "rfm": rfm,
        "rfm_segment": rfm["segment"] if rfm else None,  # DESIGN 4.4 names it on the view
        **predictions_view(profile, playbook, now),
        "tags": tags(profile, playbook, now),
        "interests": dict(sorted(profile.interests.items(), key=lambda kv: (-kv[1], kv[0]))),
        # the shop's record, as it sent it; `subscribed` is what decides, `consent` says why
        "accepts_marketing": profile.accepts_marketing,
        "subscribed": is_subscribed(profile, playbook),
        "consent": consent_view(profile, playbook),
        "topics_declined": sorted(t for t in profile.topics if not profile.topic_allowed(t)),
        "suppressed": profile.suppression is not None,
        "suppression": profile.suppression,
        "winback_steps_sent": winback.steps_taken(profile),
        "recipes": recipes_view(profile, playbook),
        "rewards": [r.view() for r in sorted(rewards, key=lambda r: r.issued_at)],
        "store_credit": store_credit(rewards, now),
        "email_opens": profile.email_opens,
        "email_clicks": profile.email_clicks,
        "last_engaged_at": profile.last_engaged_at,
        "views_count": profile.views_count,
        "visits_count": profile.visits_count,
        "replies_count": profile.replies_count,
        # what the frequency caps see: the emails of the last days, oldest first
        "recent_emails": sorted(
            ({"campaign": s["v"], "at": s["at"]} for s in profile.sends.values()), key=lambda e: e["at"]
        ),
        "events_count": profile.events_count,
        "erased": profile.erased_at is not None,
    }
