"""Whether marketing email may reach a contact at all: the checks that do not depend on the message.

The sweep asks this before it asks for a message (no point queueing mail nobody may receive) and
the sender asks it again at send time, because consent, unsubscribes and suppressions can land in
between and must win.
"""

from __future__ import annotations

from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile


def unreachable(profile: Profile | None, topic: str, playbook: Playbook) -> str | None:
    """Why no marketing email on `topic` may go to this contact, or None if it may."""
    if profile is None or profile.erased_at or profile.merged_into:
        return "no_contact"
    if not profile.email_address:
        return "no_email"
    if profile.suppression:
        return f"suppressed_{profile.suppression}"
    if profile.is_unsubscribed:
        return "unsubscribed"
    if not profile.topic_allowed(topic):
        return f"topic_{topic}_declined"
    if paused(profile):
        return "sunset"
    consent = profile.accepts_marketing
    if consent is False or (consent is None and playbook.consent == "explicit"):
        return "no_consent"
    return None


def paused(profile: Profile) -> bool:
    """A recipe sunset the contact (win-back's drip ended unanswered): no marketing until it acts again."""
    return any(
        entry["v"].get("sunset") and entry["v"].get("basis") == profile.last_activity_at
        for entry in profile.recipes.values()
        if isinstance(entry.get("v"), dict)
    )
