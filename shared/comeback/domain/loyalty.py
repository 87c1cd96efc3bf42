"""Loyalty: the points ledger and the tiers, as a pure function of what the customer did.

The loyalty recipe keeps the *facts* (orders, refunds, joins, bonus events), each keyed by its cause
(`o:{order}`, `r:{event}`, `j:{event}`, `b:{kind}:{event}`), in a map that a duplicate cannot grow.
The ledger is computed from them here, by replaying them in event-time order under the shop's rules:

- an order of a member earns `points_per_unit` per major unit of its currency (integer arithmetic
  on minor units, so JPY and USD are both exact), times the tier's multiplier, rounded by the
  shop's rule; its points stay `pending` for `pending_days` (the return window), then `confirmed`;
- a refund deducts what its order earned, in proportion to the amount refunded (all of it for a
  full refund), from the pending points if not yet confirmed, else from the balance: a refunded
  order's points never confirm, and a deduction the balance cannot cover becomes `debt`, repaid
  first by later points (never a negative balance, never a silent loss);
- a bonus event (joining, a review, a referral on either side, a birthday) earns the playbook's
  fixed amount at once;
- a redemption (points turned into a reward by the recipe) spends them: a `redeemed` entry;
- points expire after `months` without earning (the inactivity rule) or `months` after each batch
  was earned, oldest first (the batch rule);
- tiers follow a basis (lifetime points, or points or spend over a rolling 12 months or the
  calendar year): a tier is entered on reaching its `enter` threshold, and kept at requalification
  (the end of its 12 months, or of the next calendar year) by meeting its `keep` threshold.

Because the result depends only on the set of facts (not the order they arrived in, nor how many
times), any permutation and duplication of a customer's events gives the same ledger; and because
the rules are an argument, `comeback loyalty recompute` replays the same facts under new tiers.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import Currency
from comeback.domain.money import exponent

Rounding = Literal["down", "nearest", "up"]
Basis = Literal["lifetime_points", "points_12m", "spend_12m", "points_year", "spend_year"]
EntryKind = Literal["pending", "confirmed", "deducted", "debt", "bonus", "expired", "redeemed"]
YEAR = timedelta(days=365)
# The ledger entries a contact view shows (the newest); the balance counts them all.
VIEW_ENTRIES = 20


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(Strict):
    """A tier: entered at `enter`, kept at requalification with `keep` (default: `enter`), in the
    unit of the shop's basis (points, or minor units of its currency for a spend basis)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=32)]
    enter: Annotated[int, Field(ge=0)]
    keep: Annotated[int, Field(ge=0)] | None = None
    multiplier: Annotated[Decimal, Field(ge=Decimal("0.1"), le=10)] = Decimal(1)
    free_shipping: bool = False

    @model_validator(mode="before")
    @classmethod
    def _old_name(cls, data: Any) -> Any:
        # the first playbooks named the threshold after its only basis
        if isinstance(data, dict) and "min_lifetime_points" in data:
            data = {**data, "enter": data.get("enter", data["min_lifetime_points"])}
            del data["min_lifetime_points"]
        return data

    @model_validator(mode="after")
    def _sane(self) -> Level:
        if self.keep is not None and self.keep > self.enter:
            raise ValueError(f"tier {self.name}: keep must not be above enter")
        return self

    @property
    def rate(self) -> Fraction:
        return Fraction(str(self.multiplier))

    @property
    def keep_at(self) -> int:
        return self.enter if self.keep is None else self.keep


class Bonuses(Strict):
    """Points given at once for chosen events (0: none)."""

    join: Annotated[int, Field(ge=0, le=10**7)] = (
        0  # loyalty.joined (or sign-up, when enrolment is automatic)
    )
    review: Annotated[int, Field(ge=0, le=10**7)] = 0  # feedback.submitted with survey "review"
    referral: Annotated[int, Field(ge=0, le=10**7)] = 0  # referral.completed, to the referrer
    referred: Annotated[int, Field(ge=0, le=10**7)] = 0  # referral.completed, to the friend referred
    birthday: Annotated[int, Field(ge=0, le=10**7)] = 0  # once a year, on the contact's birthday


class PointsExpiry(Strict):
    rule: Literal["inactivity", "batch"] = "inactivity"
    months: Annotated[int, Field(ge=1, le=120)] = 12
    # the reminder (campaign expiry) goes this many days before (0: none)
    remind_days_before: Annotated[int, Field(ge=0, le=90)] = 14


class Rules(Strict):
    """What the ledger needs of the playbook's `loyalty` section."""

    enabled: bool = True
    enrolment: Literal["automatic", "join"] = "automatic"
    # per major unit of a currency: one rate for all, or one per currency (others earn nothing)
    points_per_unit: dict[Currency, Annotated[Decimal, Field(ge=0)]] | Annotated[Decimal, Field(ge=0)] = (
        Field(default_factory=lambda: {"JPY": Decimal("0.01"), "USD": Decimal(1)})
    )
    rounding: Rounding = "down"
    pending_days: Annotated[int, Field(ge=0, le=365)] = 14
    tiers: Annotated[list[Level], Field(min_length=1, max_length=20)] = Field(
        default_factory=lambda: [Level(name="member", enter=0)]
    )
    tier_basis: Basis = "lifetime_points"
    bonus: Bonuses = Bonuses()
    # referral bonuses a referrer earns in any 7 days at most (the rest are kept, and earn nothing)
    referrals_per_week: Annotated[int, Field(ge=0, le=1000)] = 5
    expiry: PointsExpiry | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Rules:
        thresholds = [t.enter for t in self.tiers]
        if thresholds != sorted(set(thresholds)) or thresholds[0] != 0:
            raise ValueError("tiers must start at 0 and their enter thresholds grow strictly")
        return self

    def _rates(self) -> dict[str | None, Fraction]:
        if isinstance(self.points_per_unit, dict):
            return {c: Fraction(str(r)) for c, r in self.points_per_unit.items()}
        return {None: Fraction(str(self.points_per_unit))}  # one rate for every currency

    def rate(self, currency: str) -> Fraction:
        rates = self._rates()
        return rates.get(currency, rates.get(None, Fraction(0)))

    def points(self, minor: int, currency: str, multiplier: Fraction = Fraction(1)) -> int:
        """Points for an amount, exactly: minor units x rate x multiplier / 10^exponent, rounded."""
        exact = Fraction(minor) * self.rate(currency) * multiplier / 10 ** exponent(currency)
        if self.rounding == "up":
            return ceil(exact)
        if self.rounding == "nearest":
            return floor(exact + Fraction(1, 2))
        return floor(exact)

    def level(self, name: str | None) -> int:
        return next((i for i, t in enumerate(self.tiers) if t.name == name), 0)


# -- facts ---------------------------------------------------------------------------------------


def order_fact(order_id: str, at: str, minor: int, currency: str) -> tuple[str, dict[str, Any]]:
    return f"o:{order_id}", {"t": "o", "at": at, "order": order_id, "minor": minor, "cur": currency}


def refund_fact(
    event_id: str, order_id: str, at: str, minor: int, currency: str
) -> tuple[str, dict[str, Any]]:
    return f"r:{event_id}", {"t": "r", "at": at, "order": order_id, "minor": minor, "cur": currency}


def join_fact(event_id: str, at: str) -> tuple[str, dict[str, Any]]:
    return f"j:{event_id}", {"t": "j", "at": at}


def bonus_fact(kind: str, event_id: str, at: str) -> tuple[str, dict[str, Any]]:
    return f"b:{kind}:{event_id}", {"t": "b", "at": at, "kind": kind}


def redemption_fact(number: int, at: str, points: int) -> tuple[str, dict[str, Any]]:
    """The `number`th redemption (the recipe numbers them: one reward each, never two per number)."""
    return f"x:{number}", {"t": "x", "at": at, "points": points}


def net_spend(facts: Mapping[str, Mapping[str, Any]], currency: str) -> int:
    """What the customer spent in `currency`, refunds taken off (minor units), folded history included."""
    total = sum(int(f["minor"]) * (1 if f["t"] == "o" else -1)
                for f in facts.values() if f["t"] in ("o", "r") and f["cur"] == currency)  # fmt: skip
    carried = facts.get("c:carry")
    return max(0, total + (int(carried.get("spend", 0)) if carried else 0))


def redemptions(facts: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(1 for f in facts.values() if f["t"] == "x")


# -- the ledger ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: EntryKind
    at: str
    points: int
    cause: str  # the fact it comes from (o:..., r:..., b:..., or the tier/expiry that made it)

    def view(self) -> dict[str, Any]:
        return {"kind": self.kind, "at": self.at, "points": self.points, "cause": self.cause}


@dataclass(frozen=True)
class TierChange:
    at: str
    tier: str
    previous: str
    up: bool


@dataclass
class Ledger:
    """What the facts add up to at `now`."""

    balance: int = 0  # confirmed, spendable
    pending: int = 0
    lifetime: int = 0  # confirmed points ever (refunds after confirmation take theirs back)
    debt: int = 0
    redeemed: int = 0  # points ever spent on rewards
    tier: str = ""
    tier_since: str | None = None
    tier_until: str | None = None  # requalification (None: a lifetime basis never requalifies)
    member_since: str | None = None
    entries: list[Entry] = field(default_factory=list)
    changes: list[TierChange] = field(default_factory=list)
    next_at: datetime | None = None  # the next moment the ledger changes by itself (a confirmation ...)
    expiring: tuple[int, datetime] | None = None  # the next points to expire, and when
    unearned: dict[str, int] = field(default_factory=dict)  # order -> what it would have earned a member
    measure: int = 0  # the tier basis's value at `now`
    would_drop: bool = False  # requalifying now would move the contact down
    to_keep: int = 0  # what the contact still needs by `tier_until` to keep its tier


# Happenings at one instant run in this order: an order's points exist before a refund deducts them.
# A redemption comes after the points that paid for it were confirmed the same instant.
_ORDER, _REFUND, _BONUS, _CONFIRM, _REDEEM, _REQUALIFY, _EXPIRE = range(7)


def replay(facts: Mapping[str, Mapping[str, Any]], rules: Rules, now: datetime) -> Ledger:
    """The ledger of `facts` at `now` under `rules` (a pure function: same facts, same ledger)."""
    run = _Replay(rules, now)
    orders = {f["order"]: (cause, f) for cause, f in facts.items() if f["t"] == "o"}
    joins = sorted(f["at"] for f in facts.values() if f["t"] == "j")
    run.ledger.member_since = joins[0] if joins else None
    # the join (or sign-up) bonus, once: when the contact joined, or its first fact if all are members
    first = min((f["at"] for f in facts.values()), default=None)
    welcome = run.ledger.member_since if rules.enrolment == "join" else first
    if rules.bonus.join and welcome:
        run.push(parse_iso(welcome), _BONUS, "b:join", {"t": "b", "kind": "join"})
    for cause, fact in sorted(facts.items()):
        at = parse_iso(fact["at"])
        if fact["t"] == "o":
            run.push(at, _ORDER, cause, fact)
        elif fact["t"] == "r":
            placed = orders.get(fact["order"])
            # a refund never applies before its order, whatever the shop's clock said
            when = max(at, parse_iso(placed[1]["at"])) if placed else at
            run.push(when, _REFUND, cause, fact)
        elif fact["t"] in ("b", "c"):
            run.push(at, _BONUS, cause, fact)
        elif fact["t"] == "x":
            run.push(at, _REDEEM, cause, fact)
    run.run()
    return run.ledger


class _Replay:
    def __init__(self, rules: Rules, now: datetime) -> None:
        self.rules, self.now = rules, now
        self.ledger = Ledger(tier=rules.tiers[0].name)
        self.queue: list[tuple[datetime, int, str, Any]] = []
        self.earned: dict[str, int] = {}  # order -> points it earned
        self.taken: dict[str, int] = {}  # order -> points refunds took back
        self.refunded: dict[str, int] = {}  # order -> minor units refunded
        self.totals: dict[str, int] = {}  # order -> its total (minor units)
        self.confirmed: set[str] = set()
        self.window: list[tuple[datetime, int, int]] = []  # (when, points, spend) counted for tiers
        self.batches: list[list[Any]] = []  # [earned at, points left] for the batch expiry rule
        self.last_earned: datetime | None = None
        self.referrals: list[datetime] = []  # when referral bonuses were credited

    def push(self, at: datetime, order: int, cause: str, payload: Any) -> None:
        heapq.heappush(self.queue, (at, order, cause, payload))

    def run(self) -> None:
        while self.queue:
            at, kind, cause, payload = self.queue[0]
            if at > self.now:
                self.ledger.next_at = at
                break
            heapq.heappop(self.queue)
            {
                _ORDER: self._order,
                _REFUND: self._refund,
                _BONUS: self._bonus,
                _CONFIRM: self._confirm,
                _REDEEM: self._redeem,
                _REQUALIFY: self._requalify,
                _EXPIRE: self._expire,
            }[kind](at, cause, payload)
        self._next_expiry()
        self._standing()

    def _standing(self) -> None:
        ledger = self.ledger
        ledger.measure = self.measure(self.now)
        current = self.rules.tiers[self.rules.level(ledger.tier)]
        if ledger.tier_until is not None and self.rules.level(ledger.tier) > 0:
            kept = self.kept_value(parse_iso(ledger.tier_until), self.now)
            ledger.to_keep = max(0, current.keep_at - kept)
            ledger.would_drop = ledger.to_keep > 0

    # -- membership and entries -------------------------------------------------------------
    def member(self, at: datetime) -> bool:
        if self.rules.enrolment == "automatic":
            return True
        since = self.ledger.member_since
        return since is not None and parse_iso(since) <= at

    def entry(self, kind: EntryKind, at: datetime, points: int, cause: str) -> None:
        self.ledger.entries.append(Entry(kind, isoformat(at), points, cause))

    def credit(self, at: datetime, points: int, cause: str, kind: EntryKind) -> None:
        """Confirmed points in: debt is repaid first, the rest is spendable."""
        repaid = min(self.ledger.debt, points)
        self.ledger.debt -= repaid
        self.ledger.balance += points - repaid
        self.ledger.lifetime += points
        self.entry(kind, at, points, cause)
        self.last_earned = at
        if points - repaid > 0:
            self.batches.append([at, points - repaid])
        self._reschedule_expiry(at)

    def debit(self, at: datetime, points: int, cause: str) -> None:
        """Confirmed points out (a refund after the return window): below zero is debt, not loss."""
        covered = min(self.ledger.balance, points)
        self.ledger.balance -= covered
        self.ledger.lifetime -= points
        self._consume(covered)
        if covered:
            self.entry("deducted", at, covered, cause)
        if points > covered:
            self.ledger.debt += points - covered
            self.entry("debt", at, points - covered, cause)

    def _redeem(self, at: datetime, cause: str, fact: Any) -> None:
        """Points spent on a reward: out of the balance (not the lifetime points, which tiers count).
        The recipe redeems only what the balance holds; a refund dated earlier that arrived later can
        leave less, and what the balance cannot cover is debt, as for any deduction."""
        points = int(fact["points"])
        covered = min(self.ledger.balance, points)
        self.ledger.balance -= covered
        self._consume(covered)
        self.ledger.redeemed += points
        self.entry("redeemed", at, points, cause)
        if points > covered:
            self.ledger.debt += points - covered
            self.entry("debt", at, points - covered, cause)
        self._reschedule_expiry(at)

    def _consume(self, points: int) -> None:
        for batch in self.batches:  # oldest first
            used = min(batch[1], points)
            batch[1] -= used
            points -= used
        self.batches = [b for b in self.batches if b[1] > 0]

    # -- happenings ---------------------------------------------------------------------------
    def _order(self, at: datetime, cause: str, fact: Any) -> None:
        order, minor, currency = fact["order"], int(fact["minor"]), fact["cur"]
        self.totals[order] = minor
        if not self.member(at):
            self.ledger.unearned[order] = self.rules.points(minor, currency)
            return
        multiplier = self.rules.tiers[self.rules.level(self.ledger.tier)].rate
        points = self.rules.points(minor, currency, multiplier)
        self.earned[order] = points
        if points:
            self.ledger.pending += points
            self.entry("pending", at, points, cause)
        self.push(at + timedelta(days=self.rules.pending_days), _CONFIRM, cause, (order, minor))

    def _refund(self, at: datetime, cause: str, fact: Any) -> None:
        order = fact["order"]
        if order not in self.earned:
            return  # an order we never saw (or a non-member's) earned nothing here to take back
        total = self.totals[order]
        self.refunded[order] = min(total, self.refunded.get(order, 0) + int(fact["minor"]))
        earned = self.earned[order]
        owed = earned if self.refunded[order] >= total else earned * self.refunded[order] // max(total, 1)
        take = owed - self.taken.get(order, 0)
        if take <= 0:
            return
        self.taken[order] = owed
        if order in self.confirmed:
            self.debit(at, take, cause)
            spend = min(int(fact["minor"]), total)
            self.window.append((at, -take, -spend))
            self._evaluate(at)
        else:
            self.ledger.pending -= take
            self.entry("deducted", at, take, cause)

    def _confirm(self, at: datetime, cause: str, payload: Any) -> None:
        order, minor = payload
        points = self.earned[order] - self.taken.get(order, 0)
        self.ledger.pending -= points
        self.confirmed.add(order)
        spend = minor - self.refunded.get(order, 0)
        if points > 0:
            self.credit(at, points, cause, "confirmed")
        self.window.append((at, points, spend))
        self._evaluate(at)

    def _bonus(self, at: datetime, cause: str, fact: Any) -> None:
        if fact["t"] == "c":  # folded history: what it earned, once confirmed
            self.credit(at, int(fact["points"]), cause, "confirmed")
            self.window.append((at, int(fact["points"]), int(fact.get("spend", 0))))
            self._evaluate(at)
            return
        points = int(getattr(self.rules.bonus, fact["kind"], 0))
        if points <= 0 or not self.member(at):
            return
        if fact["kind"] == "referral":
            week = [t for t in self.referrals if at - timedelta(days=7) < t <= at]
            if len(week) >= self.rules.referrals_per_week:
                return  # over the weekly cap: kept as a fact, earns nothing
            self.referrals.append(at)
        self.credit(at, points, cause, "bonus")
        self.window.append((at, points, 0))
        self._evaluate(at)

    # -- tiers --------------------------------------------------------------------------------
    def measure(self, at: datetime) -> int:
        basis = self.rules.tier_basis
        if basis == "lifetime_points":
            return self.ledger.lifetime
        by_points = basis.startswith("points")
        if basis.endswith("12m"):
            start = at - YEAR
        else:
            start = at.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return sum(
            (points if by_points else spend) for when, points, spend in self.window if start < when <= at
        )

    def _period_end(self, at: datetime) -> datetime | None:
        basis = self.rules.tier_basis
        if basis == "lifetime_points":
            return None
        if basis.endswith("12m"):
            return at + YEAR
        return at.replace(year=at.year + 2, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)

    def _move(self, at: datetime, level: int) -> None:
        current = self.rules.level(self.ledger.tier)
        if level == current:
            return
        name = self.rules.tiers[level].name
        self.ledger.changes.append(TierChange(isoformat(at), name, self.ledger.tier, level > current))
        self.ledger.tier, self.ledger.tier_since = name, isoformat(at)

    def _evaluate(self, at: datetime) -> None:
        """After points move: enter a higher tier at once; on a lifetime basis, drop below `keep`."""
        value = self.measure(at)
        current = self.rules.level(self.ledger.tier)
        reached = max(i for i, t in enumerate(self.rules.tiers) if value >= t.enter)
        if reached > current:
            self._move(at, reached)
            until = self._period_end(at)
            self.ledger.tier_until = isoformat(until) if until else None
            if until is not None:
                self.push(until, _REQUALIFY, f"tier:{self.ledger.tier_since}", self.ledger.tier_since)
        elif self.rules.tier_basis == "lifetime_points" and value < self.rules.tiers[current].keep_at:
            kept = max(i for i, t in enumerate(self.rules.tiers[: current + 1]) if value >= t.keep_at)
            self._move(at, kept)

    def keep_window(self, until: datetime) -> datetime:
        """Where the period a tier is kept by starts (exclusive): the 12 months before `until`, but
        not what entered the tier (it counted once); for the calendar bases, the year before `until`."""
        if self.rules.tier_basis.endswith("12m"):
            since = parse_iso(self.ledger.tier_since) if self.ledger.tier_since else until - YEAR
            return max(until - YEAR, since)
        return until.replace(year=until.year - 1) - timedelta(microseconds=1)

    def kept_value(self, until: datetime, at: datetime) -> int:
        start = self.keep_window(until)
        by_points = self.rules.tier_basis.startswith("points")
        return sum((p if by_points else s) for when, p, s in self.window if start < when <= at)

    def _requalify(self, at: datetime, cause: str, since: str) -> None:
        if since != self.ledger.tier_since:
            return  # a later upgrade set its own requalification
        value = self.kept_value(at, at - timedelta(microseconds=1))
        current = self.rules.level(self.ledger.tier)
        kept = max(i for i, t in enumerate(self.rules.tiers[: current + 1]) if value >= t.keep_at)
        self._move(at, kept)
        if kept == 0:
            self.ledger.tier_until = None
            return
        self.ledger.tier_since = self.ledger.tier_since if kept == current else isoformat(at)
        until = at + YEAR if self.rules.tier_basis.endswith("12m") else at.replace(year=at.year + 1)
        self.ledger.tier_until = isoformat(until)
        self.push(until, _REQUALIFY, f"tier:{isoformat(at)}", self.ledger.tier_since)

    # -- expiry -------------------------------------------------------------------------------
    def _expiry_of(self) -> tuple[int, datetime] | None:
        rule = self.rules.expiry
        if rule is None or self.ledger.balance <= 0:
            return None
        months = timedelta(days=round(rule.months * 365 / 12))
        if rule.rule == "inactivity":
            assert self.last_earned is not None
            return self.ledger.balance, self.last_earned + months
        oldest = min(self.batches, key=lambda b: b[0]) if self.batches else None
        if oldest is None:
            return None
        due = oldest[0] + months
        return sum(b[1] for b in self.batches if b[0] + months <= due), due

    def _reschedule_expiry(self, at: datetime) -> None:
        found = self._expiry_of()
        if found is not None:
            self.push(found[1], _EXPIRE, f"expire:{isoformat(found[1])}", isoformat(found[1]))

    def _expire(self, at: datetime, cause: str, due: str) -> None:
        found = self._expiry_of()
        if found is None or isoformat(found[1]) != due:
            return  # points earned since moved the expiry (inactivity) or the batch was spent
        points = min(found[0], self.ledger.balance)
        if points <= 0:
            return
        self.ledger.balance -= points
        self._consume(points)
        self.entry("expired", at, points, cause)
        self._reschedule_expiry(at)

    def _next_expiry(self) -> None:
        self.ledger.expiring = self._expiry_of()


def fold(
    facts: Mapping[str, Mapping[str, Any]], rules: Rules, now: datetime, most: int
) -> dict[str, dict[str, Any]]:
    """At most `most` facts: the oldest orders (with their refunds), settled for a year, become one
    `carry` fact worth what they earned. Replayed under new rules later, they keep that worth: a
    contact with over `most` facts is the price of a bounded profile (docs/loyalty.md)."""
    settled = now - YEAR - timedelta(days=rules.pending_days)
    orders = sorted(
        (f["at"], c, f["order"]) for c, f in facts.items() if f["t"] == "o" and parse_iso(f["at"]) < settled
    )
    if not orders:
        return {c: dict(f) for c, f in facts.items()}  # nothing old enough: keep them all rather than guess
    goners = {order for _, _, order in orders[: max(1, len(facts) - most + len(facts) // 10)]}
    folded = {c: f for c, f in facts.items() if f["t"] in ("o", "r") and f["order"] in goners}
    kept = {c: dict(f) for c, f in facts.items() if c not in folded}
    joins = {c: f for c, f in facts.items() if f["t"] == "j"}
    old = replay({**folded, **joins}, rules.model_copy(update={"expiry": None}), now)
    carry = next((f for f in kept.values() if f["t"] == "c"), None)
    at = max(f["at"] for f in folded.values())
    spend = sum(int(f["minor"]) for f in folded.values() if f["t"] == "o") - sum(
        int(f["minor"]) for f in folded.values() if f["t"] == "r"
    )
    points = old.lifetime + (int(carry["points"]) if carry else 0)
    total_spend = spend + (int(carry.get("spend", 0)) if carry else 0)
    kept = {c: f for c, f in kept.items() if f["t"] != "c"}
    order_count = sum(1 for f in folded.values() if f["t"] == "o") + (
        int(carry.get("orders", 0)) if carry else 0
    )
    kept["c:carry"] = {"t": "c", "at": max(at, carry["at"]) if carry else at, "points": points,
                       "spend": total_spend, "orders": order_count}  # fmt: skip
    return kept
