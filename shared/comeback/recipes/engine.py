"""The recipe engine: asks every enabled recipe, and keeps one due time per contact.

Pure: it takes a profile and gives back the profile with the recipes' new states and what they
asked for (messages, rewards, ledger changes, bus notices, activity notes). The contacts function,
the sweep and the sender do the I/O, and know recipes only through here and `Recipe`.

A contact's due time (`due_at`, the sparse index the sweep reads) is the earliest of its enabled
recipes' due times; each recipe's own is kept in `Profile.dues`, so the contacts function can move
one recipe's without reading the others (`fast_plan`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from comeback.domain import segments
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.playbook import Playbook
from comeback.domain.products import NoProducts, ProductReader
from comeback.domain.profile import Profile
from comeback.domain.rewards import Reward
from comeback.recipes import registry
from comeback.recipes.base import KEEP, Ask, Decision, LedgerOp, Note, Notice, Recipe, TaskOp, decision_id


@dataclass(frozen=True)
class FastPlan:
    """What an event does to the recipes, known without the profile (the one-write fast path)."""

    dues: dict[str, datetime | None]  # recipe -> its exact new due time (None: nothing pending)
    kept: tuple[str, ...]  # recipes whose stored due time the event leaves as it is
    requires: dict[str, dict[str, tuple[str, ...]]]  # recipe -> state key -> the stored values allowed

    @property
    def candidate(self) -> datetime | None:
        """The earliest of the new due times: the contact's due time, if no kept one is earlier."""
        times = [d for d in self.dues.values() if d is not None]
        return min(times) if times else None


def fast_plan(event: ShopEvent, playbook: Playbook) -> FastPlan | None:
    """None when a recipe must see the profile to know what the event means to it."""
    dues: dict[str, datetime | None] = {}
    kept: list[str] = []
    requires: dict[str, dict[str, tuple[str, ...]]] = {}
    for recipe in registry.enabled(playbook):
        effect = recipe.fast(event, playbook)
        if effect is None:
            return None
        if effect.due is KEEP:
            kept.append(recipe.name)
        else:
            dues[recipe.name] = effect.due  # type: ignore[assignment]
        if effect.requires:
            requires[recipe.name] = dict(effect.requires)
    return FastPlan(dues, tuple(kept), requires)


def due_times(profile: Profile, playbook: Playbook) -> dict[str, datetime]:
    """Each enabled recipe's next due time (recipes with nothing pending are left out)."""
    times: dict[str, datetime] = {}
    for recipe in registry.enabled(playbook):
        due = recipe.next_due(profile, playbook)
        if due is not None:
            times[recipe.name] = due
    return times


def earliest(times: dict[str, datetime]) -> datetime | None:
    return min(times.values()) if times else None


def due_at(profile: Profile) -> str | None:
    """The contact's one due time, the due index's key: the earliest of its stored `dues`."""
    found = earliest({name: parse_iso(at) for name, at in profile.dues.items()})
    return isoformat(found) if found is not None else None


def with_dues(profile: Profile, playbook: Playbook) -> Profile:
    times = due_times(profile, playbook)
    return profile.model_copy(update={"dues": {name: isoformat(t) for name, t in times.items()}})


def with_state(profile: Profile, recipe: Recipe, state: dict[str, Any], now: datetime) -> Profile:
    at = isoformat(now)
    entry = {"v": state, "at": at, "id": decision_id(recipe.name, at, sorted(state.items()))}
    return profile.model_copy(update={"recipes": {**profile.recipes, recipe.name: entry}})


@dataclass
class Outcome:
    """The profile after the recipes decided, and everything they asked for, in recipe order."""

    profile: Profile
    decided: list[tuple[Recipe, Decision]] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return [r.name for r, d in self.decided if d.state is not None]

    @property
    def asks(self) -> list[Ask]:
        return [a for _, d in self.decided for a in d.asks]

    @property
    def notices(self) -> list[Notice]:
        return [n for _, d in self.decided for n in d.notices]

    @property
    def notes(self) -> list[Note]:
        return [n for _, d in self.decided for n in d.notes]

    @property
    def ledger(self) -> list[tuple[Recipe, LedgerOp]]:
        return [(r, op) for r, d in self.decided for op in d.ledger]

    @property
    def tasks(self) -> list[TaskOp]:
        return [op for _, d in self.decided for op in d.tasks]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [(r.name, s) for r, d in self.decided for s in d.skipped]

    def record(self, recipe: Recipe, decision: Decision, now: datetime) -> None:
        if decision.state is not None:
            self.profile = with_state(self.profile, recipe, decision.state, now)
        if (
            decision.state is not None
            or decision.asks
            or decision.notices
            or decision.ledger
            or decision.tasks
        ):
            self.decided.append((recipe, decision))


def audience(
    recipe: Recipe, decision: Decision, profile: Profile, playbook: Playbook, now: datetime
) -> Decision:
    """The decision without its messages to contacts outside the recipe's `segments` (and the
    rewards they would carry): its state still moves on, as for a contact nobody can write to."""
    wanted = recipe.settings(playbook).segments
    if not wanted or not decision.asks or recipe.judges_segments:
        return decision
    found = segments.scores(profile, playbook.segmentation, now)
    if found is None or found.segment in wanted:
        return decision
    return dataclasses.replace(
        decision, asks=(), skipped=(*decision.skipped, *("not_in_segment" for _ in decision.asks))
    )


def on_event(
    before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
) -> Outcome:
    """Every enabled recipe's answer to an event, `after` being the profile with the event merged."""
    outcome = Outcome(after)
    for recipe in registry.enabled(playbook):
        decided = recipe.on_event(before, outcome.profile, event, playbook, now)
        outcome.record(recipe, audience(recipe, decided, outcome.profile, playbook, now), now)
    outcome.profile = with_dues(outcome.profile, playbook)
    return outcome


def due_now(profile: Profile, playbook: Playbook, now: datetime) -> list[Recipe]:
    """The enabled recipes due at `now`, by the stored due times (or computed, if none stored)."""
    stored = profile.dues
    due: list[Recipe] = []
    for recipe in registry.enabled(playbook):
        at = stored.get(recipe.name)
        when = parse_iso(at) if at else recipe.next_due(profile, playbook)
        if when is not None and when <= now:
            due.append(recipe)
    return due


def plan_due(
    profile: Profile, playbook: Playbook, now: datetime, products: ProductReader | None = None
) -> Outcome:
    """Ask each recipe due now what to do; later recipes see the states earlier ones wrote.
    `products` is what the shop's events taught about its products, for recipes that read it."""
    outcome = Outcome(profile)
    reader = products if products is not None else NoProducts()
    for recipe in due_now(profile, playbook, now):
        decided = recipe.plan_with(outcome.profile, playbook, now, reader)
        outcome.record(recipe, audience(recipe, decided, outcome.profile, playbook, now), now)
    outcome.profile = with_dues(outcome.profile, playbook)
    return outcome


def rewards_changed(outcome: Outcome, rewards: Iterable[Reward], playbook: Playbook, now: datetime) -> None:
    """Tell every recipe about rewards the ledger issued or moved on (the expiry recipe follows them)."""
    for reward in rewards:
        for recipe in registry.enabled(playbook):
            outcome.record(recipe, recipe.on_reward(outcome.profile, reward, playbook), now)
    outcome.profile = with_dues(outcome.profile, playbook)


def profile_reads() -> tuple[str, ...]:
    """The profile fields the recipes read at send time, for the sender's projection."""
    return tuple(sorted({name for recipe in registry.all_recipes() for name in recipe.reads}))


def still_wanted(
    profile: Profile, campaign: str, request: Any, playbook: Playbook, now: datetime
) -> str | None:
    recipe = registry.get(campaign)
    return recipe.still_wanted(profile, request, playbook, now) if recipe else None


def context(profile: Profile, request: Any, playbook: Playbook) -> dict[str, Any]:
    recipe = registry.get(request.campaign)
    return recipe.context(profile, request, playbook) if recipe else {}
