"""Time-based decisions about one contact: its stage, and what is due for it when.

Pure functions of (profile, playbook, now). The contacts function uses `due_after_activity` to put
a contact on the due index when it does something; the sweep uses `plan` when the contact comes
due, and writes back what `plan` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Lww, Profile
from comeback.domain.reach import unreachable

STAGES = ("active", "at_risk", "lapsed", "lost")


def stage(profile: Profile, playbook: Playbook, now: datetime) -> str:
    """active / at_risk / lapsed / lost by days since the last activity; 'new' with none yet."""
    if not profile.last_activity_at:
        return "new"
    days = (now - parse_iso(profile.last_activity_at)).days
    cycle = playbook.lifecycle
    if days >= cycle.lost_days:
        return "lost"
    if days >= cycle.lapsed_days:
        return "lapsed"
    if days >= cycle.at_risk_days:
        return "at_risk"
    return "active"


def tags(profile: Profile, playbook: Playbook, now: datetime) -> list[str]:
    derived = [stage(profile, playbook, now), "customer" if profile.orders_count else "prospect"]
    if winback_sunset(profile, playbook):
        derived.append("sunset")
    shop_tags = profile.field("tags") or []
    return sorted(set(derived) | set(shop_tags))


def tier(profile: Profile, playbook: Playbook) -> str:
    return playbook.loyalty.tier_for(profile.lifetime_points)


# -- win-back ----------------------------------------------------------------------------------


def winback_steps_sent(profile: Profile) -> int:
    """Steps already sent for the current lapse (0 when the customer was active since)."""
    progress = profile.winback
    if progress and progress["at"] == profile.last_activity_at:
        return int(progress["v"])
    return 0


EXITED_ON_CLICK = "exit-click"


def winback_sunset(profile: Profile, playbook: Playbook) -> bool:
    wb = playbook.winback
    exited = bool(profile.winback and profile.winback["id"] == EXITED_ON_CLICK)
    return wb.sunset_after_last_step and not exited and winback_steps_sent(profile) >= len(wb.steps)


def winback_progress(step: int, basis: str) -> Lww:
    return {"v": step, "at": basis, "id": f"step-{step:03d}"}


def clicked_winback_since(profile: Profile, basis: str) -> bool:
    """Did the contact click a win-back email of this lapse? Then the sequence ends: they heard us."""
    click = profile.last_click
    return bool(click and click["v"].get("campaign") == "winback" and click["at"] > basis)


def due_after_activity(activity_at: datetime, playbook: Playbook) -> datetime | None:
    """When a contact that just did something next needs a look (its first win-back step)."""
    if not playbook.winback.enabled:
        return None
    return activity_at + timedelta(days=playbook.winback.steps[0].after_days)


def next_due(profile: Profile, playbook: Playbook) -> datetime | None:
    """The next instant the sweep should look at this contact, or None if nothing is pending."""
    if not profile.last_activity_at or profile.erased_at or profile.merged_into:
        return None
    wb = playbook.winback
    if not wb.enabled:
        return None
    sent = winback_steps_sent(profile)
    if sent >= len(wb.steps):
        return None
    return parse_iso(profile.last_activity_at) + timedelta(days=wb.steps[sent].after_days)


@dataclass(frozen=True)
class Plan:
    """What the sweep does for one due contact."""

    messages: tuple[MessageRequest, ...]
    winback: Lww | None  # new win-back progress to store, if a step was taken
    next_due: datetime | None
    # Steps that came due for a contact no email may reach (no consent, unsubscribed, suppressed):
    # the lapse moves on without a message, so nothing is queued to be refused at send time.
    not_asked: tuple[str, ...] = ()


def plan(profile: Profile, playbook: Playbook, now: datetime) -> Plan:
    """Decide what is due now. Messages are asked only for contacts email may reach; the sender
    checks that again when it sends, and applies caps and quiet hours."""
    messages: list[MessageRequest] = []
    not_asked: list[str] = []
    progress: Lww | None = None
    wb = playbook.winback
    if wb.enabled and profile.last_activity_at and profile.orders_count >= wb.min_orders:
        sent = winback_steps_sent(profile)
        basis = profile.last_activity_at
        lapse_started = parse_iso(basis)
        if sent < len(wb.steps) and clicked_winback_since(profile, basis):
            exit_progress = {"v": len(wb.steps), "at": basis, "id": EXITED_ON_CLICK}
            return Plan(messages=(), winback=exit_progress, next_due=None, not_asked=("clicked",))
        # Several steps may have come due at once (a sweep that did not run); send only the latest,
        # so nobody gets a burst of four win-back emails.
        step = sent
        while step < len(wb.steps) and lapse_started + timedelta(days=wb.steps[step].after_days) <= now:
            step += 1
        blocked = unreachable(profile, "winback", playbook)
        if step > sent and blocked:
            not_asked.append(blocked)
        elif step > sent:
            following = wb.steps[step].after_days if step < len(wb.steps) else None
            messages.append(
                MessageRequest(
                    shop_id=profile.shop_id,
                    contact_id=profile.contact_id,
                    campaign="winback",
                    step=step,
                    period=basis[:10],
                    requested_at=now,
                    # A step is stale once the next one is due (or after 30 days for the last).
                    not_after=lapse_started + timedelta(days=following or wb.steps[-1].after_days + 30),
                    basis=basis,
                    data={"days_since_last_activity": (now - lapse_started).days},
                )
            )
        if step > sent:
            progress = winback_progress(step, basis)
    after = profile.model_copy(update={"winback": progress}) if progress else profile
    if progress is None and profile.orders_count < wb.min_orders:
        # Not a win-back candidate (yet): nothing is pending until it orders and lapses.
        return Plan(messages=(), winback=None, next_due=None)
    return Plan(
        messages=tuple(messages),
        winback=progress,
        next_due=next_due(after, playbook),
        not_asked=tuple(not_asked),
    )


def period_of(moment: datetime) -> str:
    return isoformat(moment)[:10]
