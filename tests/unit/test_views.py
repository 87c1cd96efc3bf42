"""The contact view's consent section: every signal, and one sentence on which one decides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from comeback.domain import playbook
from comeback.domain.profile import empty, lww
from comeback.domain.views import consent_view, contact_view

AT = "2026-11-01T00:00:00.000000Z"
LATER = "2026-11-02T00:00:00.000000Z"
EXPLICIT = playbook.default()
OPT_OUT = EXPLICIT.model_copy(update={"consent": "opt_out"})


def contact(**fields):
    return empty("demo", "c-1", "c-1").model_copy(update=fields)


def test_a_one_click_unsubscribe_wins_over_the_shops_consent_and_the_view_says_so():
    profile = contact(consent=lww(True, AT, "e1"), unsubscribed=lww(True, LATER, "pref:abc"))
    view = contact_view(profile, EXPLICIT, datetime(2026, 11, 3, tzinfo=UTC))
    assert view["accepts_marketing"] is True and view["subscribed"] is False
    consent = view["consent"]
    assert consent["shop_accepts_marketing"] is True and consent["shop_reported_at"] == AT
    assert (consent["recipient_unsubscribed"], consent["unsubscribed_at"]) == (True, LATER)
    assert consent["unsubscribed_via"] == "preference_centre"
    assert "wins over the shop's accepts_marketing" in consent["why"]


@pytest.mark.parametrize(
    ("fields", "policy", "subscribed", "words"),
    [
        ({"consent": lww(True, AT, "e1")}, EXPLICIT, True, "reports marketing consent"),
        ({"consent": lww(False, AT, "e1")}, OPT_OUT, False, "no marketing consent"),
        ({}, EXPLICIT, False, "requires explicit consent"),
        ({}, OPT_OUT, True, "treats that as consent"),
        (
            {"consent": lww(True, AT, "e1"), "suppressed": lww("bounce", AT, "ses:m:Bounce")},
            EXPLICIT,
            True,
            "bounced permanently",
        ),
        (
            {
                "consent": lww(True, AT, "e1"),
                "suppressed": lww("complaint", AT, "ses:m:Complaint"),
                "unsubscribed": lww(True, AT, "ses:m:Complaint"),
            },
            EXPLICIT,
            False,
            "spam",
        ),
    ],
)
def test_the_reason_names_the_signal_that_decides(fields, policy, subscribed, words):
    consent = consent_view(contact(**fields), policy)
    assert consent["subscribed"] is subscribed
    assert words in consent["why"]


def test_resubscribing_on_the_preference_page_clears_the_unsubscribe():
    profile = contact(consent=lww(True, AT, "e1"), unsubscribed=lww(False, LATER, "pref:def"))
    consent = consent_view(profile, EXPLICIT)
    assert consent["subscribed"] is True and consent["recipient_unsubscribed"] is False
    assert consent["unsubscribed_via"] is None
