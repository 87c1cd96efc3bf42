"""Product interest: what a contact's product views add up to, read from `Profile.browsed`.

The profile counts views per UTC day, per product and per category (`profile.browsed_keys`): one
counter each that the contacts function adds to in its one write, whatever order views arrive in.
Everything here is a pure function of those counters and a moment, so nothing has to be stored or
decayed by a job:

- `views_of`: views of one product (or category) in the days up to a moment;
- `scores`: interest with exponential decay (a view `half_life_days` old counts half);
- `interest_tags`: `interest:<category>` for a category viewed at least `min_views` times in the last
  `within_days` days (the contact view's tags; segments and exports read them there).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from comeback.domain.profile import Profile

Kind = Literal["p", "c"]  # product, category
TAG_PREFIX = "interest:"


class InterestRules(BaseModel):
    """When a category's views tag a contact with it (the `browse` section's `interest`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    min_views: Annotated[int, Field(ge=1, le=1000)] = 3
    within_days: Annotated[int, Field(ge=1, le=365)] = 30
    # for `scores`: a view this many days old counts half
    half_life_days: Annotated[float, Field(gt=0, le=365)] = 14


def _entries(profile: Profile, kind: Kind) -> list[tuple[date, str, int]]:
    found = []
    for key, count in profile.browsed.items():
        day, _, rest = key.partition("|")
        entry_kind, _, name = rest.partition("|")
        if entry_kind != kind or not name:
            continue
        try:
            found.append((date.fromisoformat(day), name, count))
        except ValueError:
            continue
    return found


def views_of(profile: Profile, kind: Kind, name: str, now: datetime, within_days: int) -> int:
    """Views of product (`p`) or category (`c`) `name` on the `within_days` UTC days up to `now`'s."""
    first = now.date() - timedelta(days=within_days - 1)
    return sum(n for day, key, n in _entries(profile, kind) if key == name and first <= day <= now.date())


def counts(profile: Profile, kind: Kind, now: datetime, within_days: int) -> dict[str, int]:
    """Views per product or category in the window, most viewed first."""
    first = now.date() - timedelta(days=within_days - 1)
    totals: dict[str, int] = {}
    for day, name, n in _entries(profile, kind):
        if first <= day <= now.date():
            totals[name] = totals.get(name, 0) + n
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def scores(profile: Profile, kind: Kind, now: datetime, half_life_days: float) -> dict[str, float]:
    """Interest with decay: each view weighs 0.5 ** (its age in days / half_life_days); strongest first."""
    totals: dict[str, float] = {}
    for day, name, n in _entries(profile, kind):
        age = max(0, (now.date() - day).days)
        totals[name] = totals.get(name, 0.0) + n * 0.5 ** (age / half_life_days)
    return dict(sorted(((k, round(v, 3)) for k, v in totals.items()), key=lambda kv: (-kv[1], kv[0])))


def interest_tags(profile: Profile, rules: InterestRules, now: datetime) -> list[str]:
    """`interest:<category>` for every category viewed at least `min_views` times in the window."""
    if not rules.enabled:
        return []
    window = counts(profile, "c", now, rules.within_days)
    return sorted(f"{TAG_PREFIX}{name}" for name, n in window.items() if n >= rules.min_views)
