"""Loyalty: points, tiers and order milestones, on the ledger of `comeback.domain.loyalty`.

What an event means to it is a *fact* kept in its state, keyed by its cause (an order by its id, a
refund, a join, a review or a referral by its event id), so a duplicate adds nothing; the points,
the tier and what is pending are replayed from the facts whenever they are needed. Its emails:

- `invite`: a non-member's order (when members must join) says what it would have earned;
- `milestone`: the Nth order (1st, 5th and 10th by default), with an optional reward, once each:
  the reward and the message are keyed by the milestone, so orders 4 and 5 arriving together, out
  of order or twice still reward the 5th once, and a refund of the 5th does not make the 6th a 5th;
- `tier`: an upgrade when it happens, and a kind notice `notice_days` before a requalification
  that would move the contact down;
- `expiry`: `remind_days_before` points expire, with the amount.

What an order calls for (a milestone, an invitation) is decided when it arrives and queued in the
state; the contact is due at once and the next sweep sends it, so what arrived with the order (the
customer's consent, a second order) is applied first, and the contacts function queues no email.
An event older than `FRESH` when it reaches us (a shop importing its history) updates the ledger but
sends nothing: no thank-you for a ten-month-old order. Upgrades are announced up to
`ANNOUNCE_WITHIN` after they happen (a sweep that did not run for a day still sends them).

State (`Profile.recipes["loyalty"]`): `facts` (cause -> fact), `as_of` (when the ledger was last
replayed: its next change is this recipe's due time), `announced` (the tier last told),
`noticed` (the requalification a downgrade notice was sent for), `milestones` (orders counts
done), `queued` (asks waiting for the sweep), `reminded` (the expiry a reminder was sent for),
`invited_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from comeback.domain import loyalty as ledger_rules
from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import (
    CustomerUpdated,
    FeedbackSubmitted,
    LoyaltyJoined,
    OrderPlaced,
    OrderRefunded,
    ReferralCompleted,
    ShopEvent,
)
from comeback.domain.loyalty import Ledger, Rules, Strict
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile, email_key
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.recipes import birthday
from comeback.recipes.base import Ask, Decision, FastEffect, Note, Recipe, RecipeSettings, state_of

NAME = "loyalty"
FRESH = timedelta(hours=48)
ANNOUNCE_WITHIN = timedelta(days=7)
INVITE_EVERY = timedelta(days=30)  # at most one invitation a month, however many orders
# A customer's facts are bounded: past this many orders the oldest settled ones are folded away
MAX_FACTS = 1000
MAX_QUEUED = 5  # asks waiting for the sweep (a contact ordering many times before it runs)
REFERRED = "b:referred:once"  # a friend is rewarded for being referred once, whoever referred them
BIRTHDAY_LATE = timedelta(days=7)  # birthday points still given this late (a sweep that did not run)


class Milestone(Strict):
    """The Nth order (`orders`), or a net spend reached (`spend_minor`, in the shop's currency)."""

    orders: Annotated[int, Field(ge=1, le=100_000)] | None = None
    spend_minor: Annotated[int, Field(ge=1, le=10**12)] | None = None
    offer: Offer | None = None

    @model_validator(mode="after")
    def _one_measure(self) -> Milestone:
        if (self.orders is None) == (self.spend_minor is None):
            raise ValueError("a milestone is an order count (orders) or a spend (spend_minor), not both")
        return self


class Redemption(Strict):
    """Points turned into a reward: as soon as the balance holds `points`, they are spent on `offer`
    (a code in a `reward` email), one reward per sweep, as often as the balance allows."""

    points: Annotated[int, Field(ge=1, le=10**9)]
    offer: Offer


class PostPurchase(Strict):
    """A short-lived reward after an order, to pull the next one forward (campaign `reward`)."""

    offer: Offer
    after: Literal["first_order", "every_order"] = "first_order"


class LoyaltySettings(Rules, RecipeSettings):
    milestones: Annotated[list[Milestone], Field(max_length=20)] = Field(
        default_factory=lambda: [Milestone(orders=1), Milestone(orders=5), Milestone(orders=10)]
    )
    # a kind notice this many days before a requalification would move the contact down (0: none)
    tier_notice_days: Annotated[int, Field(ge=0, le=180)] = 30
    redeem: Redemption | None = None
    post_purchase: PostPurchase | None = None
    # what the friend a customer referred gets besides `bonus.referred` points (a code by email)
    referral_offer: Offer | None = None

    @model_validator(mode="after")
    def _distinct(self) -> LoyaltySettings:
        for measure in ("orders", "spend_minor"):
            values = [getattr(m, measure) for m in self.milestones if getattr(m, measure) is not None]
            if len(values) != len(set(values)):
                raise ValueError(f"each milestone's {measure} appears once")
        return self


def settings(playbook: Playbook) -> LoyaltySettings:
    section = playbook.section(NAME)
    assert isinstance(section, LoyaltySettings)
    return section


def facts_of(profile: Profile) -> dict[str, dict[str, Any]]:
    return dict(state_of(profile, NAME).get("facts", {}))


def ledger(profile: Profile, playbook: Playbook, now: datetime) -> Ledger:
    """The contact's points and tier at `now`, under the shop's rules."""
    return ledger_rules.replay(facts_of(profile), settings(playbook), now)


def standing(profile: Profile, playbook: Playbook, now: datetime) -> dict[str, Any]:
    """What the contact view and templates show of the loyalty program."""
    rules = settings(playbook)
    if not rules.enabled:
        return {"points_balance": 0, "points_pending": 0, "lifetime_points": 0, "tier": None,
                "points_to_next_tier": None, "loyalty": None}  # fmt: skip
    found = ledger_rules.replay(facts_of(profile), rules, now)
    level = rules.level(found.tier)
    upper = rules.tiers[level + 1] if level + 1 < len(rules.tiers) else None
    measure = _measure(found, rules)
    to_next = max(0, upper.enter - measure) if upper else None
    return {
        "points_balance": found.balance,
        "points_pending": found.pending,
        "lifetime_points": found.lifetime,
        "tier": found.tier,
        "points_to_next_tier": to_next,
        "loyalty": {
            "member": rules.enrolment == "automatic" or found.member_since is not None,
            "member_since": found.member_since,
            "debt": found.debt,
            "tier_basis": rules.tier_basis,
            "tier_since": found.tier_since,
            "tier_until": found.tier_until,
            "next_tier": upper.name if upper else None,
            "to_next_tier": to_next,
            "free_shipping": rules.tiers[level].free_shipping,
            "multiplier": str(rules.tiers[level].multiplier),
            "expiring": (
                {"points": found.expiring[0], "at": isoformat(found.expiring[1])} if found.expiring else None
            ),
            "entries": [e.view() for e in found.entries[-ledger_rules.VIEW_ENTRIES :]],
        },
    }


def _measure(found: Ledger, rules: Rules) -> int:
    """The tier basis's value at `now` (points, or spend in minor units), from the replayed ledger."""
    return found.lifetime if rules.tier_basis == "lifetime_points" else found.measure


class LoyaltyRecipe(Recipe):
    name: ClassVar[str] = NAME
    campaigns: ClassVar[tuple[str, ...]] = ("invite", "milestone", "tier", "reward")
    topic = "rewards"
    priority = 0
    section_key = NAME
    settings_model = LoyaltySettings

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced | OrderRefunded | LoyaltyJoined | ReferralCompleted):
            return None  # a fact for the ledger: the slow path records it
        if isinstance(event, FeedbackSubmitted) and event.data.survey == "review":
            return None
        if isinstance(event, CustomerUpdated) and event.data.loyalty_member:
            return None
        moved = isinstance(event, CustomerUpdated) and (event.data.birthday or event.data.timezone)
        if moved and settings(playbook).bonus.birthday:
            return None  # the birthday points' due time moves with the birthday
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        rules = settings(playbook)
        state = state_of(after, NAME)
        facts = dict(state.get("facts", {}))
        new = self._facts(before, after, event, rules, facts)
        if not new and not (isinstance(event, OrderPlaced)):
            return Decision()
        facts.update(new)
        state = {**state, "facts": _bounded(facts, rules, now)}
        fresh = now - event.occurred_at <= FRESH
        queued = [*state.get("queued", [])]
        if isinstance(event, OrderPlaced):
            # What the order calls for (a milestone's thank-you, an invitation) is decided now and
            # queued in the state; the contact is then due at once and the sweep sends it, having
            # seen the rest of what arrived meanwhile (the consent that came with the order, say).
            found = ledger_rules.replay(state["facts"], rules, now)
            currency = playbook.shop.currency
            queued += self._milestones(state, rules, now, fresh, event, currency)
            if f"o:{event.data.order_id}" in new:
                queued += self._post_purchase(rules, now, fresh, event, queued, orders_counted(state))
            queued += self._invite(state, found, rules, now, fresh, event)
        if REFERRED in new and rules.referral_offer and fresh:
            data = {"kind": "referred"}
            offer = rules.referral_offer.model_dump(mode="json", exclude_none=True)
            queued.append(_queued("reward", "referred", now, data, offer, step=4))
        if queued:
            state["queued"] = queued[-MAX_QUEUED:]
        state["as_of"] = isoformat(now)
        return Decision(state=state)

    def _facts(
        self, before: Profile | None, after: Profile, event: ShopEvent, rules: LoyaltySettings,
        facts: dict[str, Any],
    ) -> dict[str, dict[str, Any]]:  # fmt: skip
        at = isoformat(event.occurred_at)
        new: dict[str, dict[str, Any]] = {}
        if isinstance(event, OrderPlaced):
            order = event.data
            key, fact = ledger_rules.order_fact(order.order_id, at, order.total_minor, order.currency)
            new[key] = fact
        elif isinstance(event, OrderRefunded):
            refund = event.data
            new.update(
                [
                    ledger_rules.refund_fact(
                        event.id, refund.order_id, at, refund.amount_minor, refund.currency
                    )
                ]
            )
        elif isinstance(event, LoyaltyJoined) or (
            isinstance(event, CustomerUpdated) and event.data.loyalty_member
        ):
            new.update([ledger_rules.join_fact(event.id, at)])
        elif isinstance(event, FeedbackSubmitted) and event.data.survey == "review":
            # one review bonus per order reviewed (or per event, for a review of no order)
            new.update([ledger_rules.bonus_fact("review", event.data.order_id or event.id, at)])
        elif isinstance(event, ReferralCompleted) and event.data.referrer is not None:
            if not _same_person(after, event.data.referrer.id, event.data.referrer.email):
                new[REFERRED] = ledger_rules.bonus_fact("referred", "once", at)[1]
        elif isinstance(event, ReferralCompleted):
            referral = self._referral(after, event, rules, facts)
            if referral:
                new.update([referral])
        return {k: v for k, v in new.items() if k not in facts}

    def _referral(
        self, referrer: Profile, event: ReferralCompleted, rules: LoyaltySettings, facts: dict[str, Any]
    ) -> tuple[str, dict[str, Any]] | None:
        """The referrer's bonus: once per person referred, never for oneself, capped per week."""
        data = event.data
        if _same_person(referrer, data.referred_customer_id, data.referred_email):
            return None
        if data.referred_address and _address_key(data.referred_address.model_dump()) == _address_key(
            referrer.field("address")
        ):
            return None  # the same household: a second account of the referrer, most likely
        who = data.referred_customer_id or (
            email_key(str(data.referred_email)) if data.referred_email else None
        )
        if who is None:
            return None  # nobody named: nothing to keep it from counting twice
        week_ago = isoformat(event.occurred_at - timedelta(days=7))
        at = isoformat(event.occurred_at)
        recent = [f for c, f in facts.items() if c.startswith("b:referral:") and week_ago < f["at"] <= at]
        if len(recent) >= rules.referrals_per_week:
            return None
        return ledger_rules.bonus_fact("referral", who[:64], at)

    # -- emails --------------------------------------------------------------------------------
    def _message(
        self, profile: Profile, campaign: str, step: int, period: str, now: datetime, data: dict[str, Any],
        days: int = 7,
    ) -> MessageRequest:  # fmt: skip
        return MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=campaign,
            step=step,
            period=period,
            requested_at=now,
            not_after=now + timedelta(days=days),
            data=data,
            topic_of="news" if campaign == "invite" else self.topic,
            priority_of=4 if campaign == "invite" else self.priority,
        )

    def _milestones(
        self, state: dict[str, Any], rules: LoyaltySettings, now: datetime, fresh: bool, event: OrderPlaced,
        currency: str,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The milestones this order reached, each once ever (a refund does not undo one, so the
        order after a refunded 5th is no second 5th); only the highest one it reached is told."""
        count = orders_counted(state)
        spent = ledger_rules.net_spend(state["facts"], currency)
        done, done_spend = set(state.get("milestones", [])), set(state.get("spend_milestones", []))
        by_orders = [m for m in rules.milestones if m.orders and m.orders <= count and m.orders not in done]
        by_spend = [
            m for m in rules.milestones
            if m.spend_minor and m.spend_minor <= spent and m.spend_minor not in done_spend
        ]  # fmt: skip
        if by_orders:
            state["milestones"] = sorted(done | {m.orders for m in by_orders if m.orders})
        if by_spend:
            reached = {m.spend_minor for m in by_spend if m.spend_minor}
            state["spend_milestones"] = sorted(done_spend | reached)
        if not fresh:
            return []  # a backfilled history is no burst of emails
        asks = []
        order = event.data
        top = max(by_orders, key=lambda m: m.orders or 0, default=None)
        if top and top.orders == count:
            data = {"orders_count": top.orders, "order_id": order.order_id}
            asks.append(_queued("milestone", f"orders.{top.orders}", now, data, _dump(top.offer)))
        this_order = order.total_minor if order.currency == currency else 0
        highest = max(by_spend, key=lambda m: m.spend_minor or 0, default=None)
        if highest and highest.spend_minor and spent - this_order < highest.spend_minor:
            data = {"spend_minor": highest.spend_minor, "currency": currency, "order_id": order.order_id}
            asks.append(_queued("milestone", f"spend.{highest.spend_minor}", now, data, _dump(highest.offer)))
        return asks

    def _post_purchase(
        self, rules: LoyaltySettings, now: datetime, fresh: bool, event: OrderPlaced,
        queued: list[dict[str, Any]], count: int,
    ) -> list[dict[str, Any]]:  # fmt: skip
        rule = rules.post_purchase
        if rule is None or not fresh or (rule.after == "first_order" and count != 1):
            return []
        order_id = event.data.order_id
        offer = _dump(rule.offer)
        for item in queued:
            # one email for the order: a milestone thank-you it calls for carries the reward (if it
            # has none of its own) rather than a second email the same hour
            ours = item["campaign"] == "milestone" and item["data"].get("order_id") == order_id
            if ours and not item.get("offer"):
                item["offer"], item["data"]["post_purchase"] = offer, True
                return []
        return [_queued("reward", f"order.{order_id[:48]}", now, {"kind": "post_purchase",
                        "order_id": order_id}, offer, step=2)]  # fmt: skip

    def _invite(
        self, state: dict[str, Any], found: Ledger, rules: LoyaltySettings, now: datetime, fresh: bool,
        event: OrderPlaced,
    ) -> list[dict[str, Any]]:  # fmt: skip
        would = found.unearned.get(event.data.order_id)
        if rules.enrolment != "join" or not would or not fresh:
            return []
        last = state.get("invited_at")
        if last and now - parse_iso(last) < INVITE_EVERY:
            return []
        state["invited_at"] = isoformat(now)
        data = {"points": would, "order_id": event.data.order_id}
        return [_queued("invite", f"order.{event.data.order_id[:48]}", now, data)]

    def _send_queued(
        self, profile: Profile, state: dict[str, Any], playbook: Playbook, now: datetime
    ) -> tuple[list[Ask], list[str]]:
        """The queued asks still fresh, for contacts that may be written to (and why others are not)."""
        asks: list[Ask] = []
        skipped: list[str] = []
        for item in state.pop("queued", []):
            topic = "news" if item["campaign"] == "invite" else self.topic
            blocked = unreachable(profile, topic, playbook)
            if now - parse_iso(item["at"]) > FRESH:
                skipped.append("stale")  # the sweep did not run for two days: a late thank-you is worse
            elif blocked:
                skipped.append(blocked)
            else:
                message = self._message(
                    profile, item["campaign"], int(item.get("step", 1)), item["period"], now, item["data"],
                    days=14,
                )  # fmt: skip
                offer = Offer.model_validate(item["offer"]) if item.get("offer") else None
                asks.append(Ask(message, offer))
        return asks, skipped

    def _tiers(
        self, profile: Profile, state: dict[str, Any], found: Ledger, rules: LoyaltySettings,
        playbook: Playbook, now: datetime, notes: list[Note],
    ) -> list[Ask]:  # fmt: skip
        asks: list[Ask] = []
        forced = bool(state.pop("announce", False))  # a recompute asked for its upgrades to be told
        announced = state.get("announced", rules.tiers[0].name)
        if found.tier != announced:
            up = rules.level(found.tier) > rules.level(announced)
            change = found.changes[-1] if found.changes else None
            notes.append(Note("tier_changed", isoformat(now), {"tier": found.tier, "previous": announced}))
            state["announced"] = found.tier
            recent = change is not None and now - parse_iso(change.at) <= ANNOUNCE_WITHIN
            recent = recent or forced
            if up and recent and not unreachable(profile, "rewards", playbook):
                data = {"tier": found.tier, "previous_tier": announced, "kind": "upgrade"}
                period = f"up.{found.tier}.{found.tier_since[:10] if found.tier_since else 'x'}"
                asks.append(Ask(self._message(profile, "tier", 1, period, now, data)))
        notice = _notice_at(found, rules)
        if notice and notice <= now and state.get("noticed") != found.tier_until:
            state["noticed"] = found.tier_until
            if found.would_drop and not unreachable(profile, "rewards", playbook):
                keep_in = "spend" if rules.tier_basis.startswith("spend") else "points"
                data = {"tier": found.tier, "kind": "downgrade_notice", "keep_until": found.tier_until,
                        "to_keep": found.to_keep, "keep_in": keep_in,
                        "currency": profile.currency or playbook.shop.currency}  # fmt: skip
                period = f"keep.{found.tier}.{(found.tier_until or 'x')[:10]}"
                asks.append(Ask(self._message(profile, "tier", 2, period, now, data)))
        expiring = found.expiring
        remind = rules.expiry.remind_days_before if rules.expiry else 0
        if expiring and remind and expiring[1] - timedelta(days=remind) <= now:
            due = isoformat(expiring[1])
            if state.get("reminded") != due:
                state["reminded"] = due
                if not unreachable(profile, "rewards", playbook):
                    data = {"points_expiring": expiring[0], "expires_on": due[:10]}
                    message = self._message(profile, "expiry", 1, f"points.{due[:10]}", now, data)
                    asks.append(Ask(message.model_copy(update={"not_after": expiring[1]})))
        return asks

    def _redeem(
        self, profile: Profile, state: dict[str, Any], found: Ledger, rules: LoyaltySettings,
        playbook: Playbook, now: datetime,
    ) -> list[Ask]:  # fmt: skip
        """Points the balance holds turned into the shop's reward: a `redeemed` entry and a code, one
        per sweep. The reward is keyed by the redemption's number, so a sweep retried after a lost
        write finds the same reward rather than a second one."""
        rule = rules.redeem
        if rule is None or not _can_redeem(profile, found, rules, playbook):
            return []
        number = ledger_rules.redemptions(state["facts"]) + 1
        key, fact = ledger_rules.redemption_fact(number, isoformat(now), rule.points)
        state["facts"] = {**state["facts"], key: fact}
        data = {"kind": "points", "points": rule.points, "balance_after": found.balance - rule.points}
        message = self._message(profile, "reward", 1, f"points.{number}", now, data, days=14)
        return [Ask(message, rule.offer)]

    def _birthday_points(
        self, profile: Profile, state: dict[str, Any], rules: LoyaltySettings, playbook: Playbook,
        now: datetime,
    ) -> None:  # fmt: skip
        """The birthday bonus, once a year at the birthday email's moment (given up to BIRTHDAY_LATE
        late; past years are not made up for)."""
        year, due = _birthday_due(profile, state, rules, playbook)
        if due is None or due > now:
            return
        while (
            following := birthday.RECIPE.moment(profile, playbook, year + 1)
        ) is not None and following <= now:
            year, due = year + 1, following
        state["birthday_year"] = year
        if now - due <= BIRTHDAY_LATE:
            key, fact = ledger_rules.bonus_fact("birthday", str(year), isoformat(due))
            state["facts"] = {**state["facts"], key: fact}

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into:
            return None
        state = state_of(profile, NAME)
        if not state.get("facts"):
            return None
        rules = settings(playbook)
        as_of = parse_iso(state["as_of"]) if state.get("as_of") else datetime.fromtimestamp(0).astimezone()
        found = ledger_rules.replay(state["facts"], rules, as_of)
        to_tell = state.get("queued") or state.get("announce")
        to_tell = to_tell or found.tier != state.get("announced", rules.tiers[0].name)
        moments = [as_of if to_tell else found.next_at]
        notice = _notice_at(found, rules)
        if notice and state.get("noticed") != found.tier_until:
            moments.append(notice)
        remind = rules.expiry.remind_days_before if rules.expiry else 0
        if found.expiring and remind and state.get("reminded") != isoformat(found.expiring[1]):
            moments.append(found.expiring[1] - timedelta(days=remind))
        if _can_redeem(profile, found, rules, playbook):
            moments.append(as_of)
        moments.append(_birthday_due(profile, state, rules, playbook)[1])
        times = [m for m in moments if m is not None]
        return min(times) if times else None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        rules = settings(playbook)
        state = state_of(profile, NAME)
        if not state.get("facts"):
            return Decision()
        found = ledger_rules.replay(state["facts"], rules, now)
        notes: list[Note] = []
        asks, skipped = self._send_queued(profile, state, playbook, now)
        asks += self._tiers(profile, state, found, rules, playbook, now, notes)
        self._birthday_points(profile, state, rules, playbook, now)
        asks += self._redeem(profile, state, found, rules, playbook, now)
        state = {**state, "as_of": isoformat(now)}
        return Decision(state=state, asks=tuple(asks), notes=tuple(notes), skipped=tuple(skipped))


@dataclass(frozen=True)
class Move:
    """A contact whose tier a replay under the current rules changes."""

    contact_id: str
    customer_id: str | None
    before: str
    after: str
    up: bool
    lifetime_points: int
    measure: int  # the tier basis's value now


def recompute(
    profile: Profile, playbook: Playbook, now: datetime, notify: bool = False
) -> tuple[Move, dict[str, Any]] | None:
    """The contact's tier under the shop's current rules, if it moves, and the state to store.

    Without `notify` the new tier is recorded as told (no email, ever, for this move); with it, an
    upgrade is left for the contact's next sweep to announce, through the sender like any email."""
    state = state_of(profile, NAME)
    if not state.get("facts") or profile.erased_at or profile.merged_into:
        return None
    rules = settings(playbook)
    found = ledger_rules.replay(state["facts"], rules, now)
    before = str(state.get("announced", rules.tiers[0].name))
    if found.tier == before:
        return None
    up = rules.level(found.tier) > rules.level(before)
    move = Move(profile.contact_id, profile.customer_id, before, found.tier, up, found.lifetime,
                _measure(found, rules))  # fmt: skip
    if notify and up:
        return move, {**state, "announce": True, "as_of": isoformat(now)}
    return move, {**state, "announced": found.tier, "as_of": isoformat(now)}


def _queued(
    campaign: str, period: str, now: datetime, data: dict[str, Any], offer: dict[str, Any] | None = None,
    step: int = 1,
) -> dict[str, Any]:  # fmt: skip
    return {"campaign": campaign, "step": step, "period": period, "at": isoformat(now), "data": data,
            "offer": offer}  # fmt: skip


def _dump(offer: Offer | None) -> dict[str, Any] | None:
    return offer.model_dump(mode="json", exclude_none=True) if offer else None


def _same_person(profile: Profile, customer_id: str | None, email: str | None) -> bool:
    if customer_id and customer_id == profile.customer_id:
        return True
    own = profile.email_address
    return bool(email and own and email_key(str(email)) == email_key(own))


def _address_key(address: Any) -> str | None:
    """An address compared loosely (case, spaces), by its street and postal code."""
    if not isinstance(address, dict) or not address.get("line1"):
        return None
    parts = (address.get("line1"), address.get("line2"), address.get("postal_code"), address.get("country"))
    return "|".join("".join(str(p or "").lower().split()) for p in parts)


def orders_counted(state: dict[str, Any]) -> int:
    """Distinct orders (by order id: one order sent twice is one), folded ones included."""
    facts = state.get("facts", {})
    carried = facts.get("c:carry", {}).get("orders", 0)
    return int(carried) + sum(1 for f in facts.values() if f["t"] == "o")


def _can_redeem(profile: Profile, found: Ledger, rules: LoyaltySettings, playbook: Playbook) -> bool:
    """Points are turned into a reward only for a contact the reward can be told to."""
    rule = rules.redeem
    return bool(rule and found.balance >= rule.points and not unreachable(profile, "rewards", playbook))


def _birthday_due(
    profile: Profile, state: dict[str, Any], rules: LoyaltySettings, playbook: Playbook
) -> tuple[int, datetime | None]:
    """The next birthday whose points are to be given (the year, and when), as the birthday recipe
    times its email; None without a birthday bonus or a birthday."""
    if not rules.bonus.birthday or birthday.birthday_of(profile) is None:
        return 0, None
    known = parse_iso(profile.first_seen_at) if profile.first_seen_at else None
    seen = known.year if known else 1970
    year = max(int(state.get("birthday_year", seen - 1)) + 1, seen)
    due = birthday.RECIPE.moment(profile, playbook, year)
    if due is not None and known is not None and due < known:
        year += 1  # that year's was over before we knew them
        due = birthday.RECIPE.moment(profile, playbook, year)
    return year, due


def _notice_at(found: Ledger, rules: LoyaltySettings) -> datetime | None:
    if not found.tier_until or not rules.tier_notice_days:
        return None
    return parse_iso(found.tier_until) - timedelta(days=rules.tier_notice_days)


def _bounded(facts: dict[str, dict[str, Any]], rules: Rules, now: datetime) -> dict[str, dict[str, Any]]:
    """At most MAX_FACTS facts: the oldest settled orders (and their refunds) fold into one carry."""
    if len(facts) <= MAX_FACTS:
        return facts
    return ledger_rules.fold(facts, rules, now, MAX_FACTS)


RECIPE = LoyaltyRecipe()
