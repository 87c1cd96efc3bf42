"""The reward ledger: offers (win-back's free shipping, amount and percent off; loyalty's store
credit and gifts) as rewards, one per contact and (recipe, step, period), with a code unique per shop.

A recipe asks for an `Offer`; the engine turns it into a `RewardRequest` keyed like a message, so
asking again (a redelivery, a second sweep) finds the reward already issued instead of a second
code. A reward is `issued`, then `redeemed` (its code came back on an order) or `expired`, once.

Codes are generated from an alphabet a customer can read back without doubt (no 0/O, no 1/I), or
drawn from a pool the shop uploaded (codes its platform already knows); customers type them, so a
code is compared trimmed and upper-cased. This module is pure: the stores behind `RewardStore`
keep the ledger (DynamoDB in `comeback.aws.reward_store`, in memory in the tests' fakes).
"""

from __future__ import annotations

import enum
import random
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from comeback.domain.clock import isoformat
from comeback.domain.events import Currency, Id, ShortText, UtcDatetime

# 32 symbols, 5 bits each: an 8-symbol code is one of 2^40, so a guessed code is worthless.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 8
CODE_GROUP = 4
DEFAULT_PREFIX = "CB"
# What a shop may upload to a pool (what Shopify and WooCommerce accept, and our keys can hold).
POOL_CODE = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
_PREFIX = re.compile(r"^[A-Z0-9]{1,8}$")

RecipeName = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
Period = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9:._-]+$")]
PoolName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Step = Annotated[int, Field(ge=1, le=99)]


class RewardType(enum.StrEnum):
    FREE_SHIPPING = "free_shipping"
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    GIFT = "gift"
    STORE_CREDIT = "store_credit"


class RewardState(enum.StrEnum):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


# The types whose worth is an amount of money (and so needs a currency).
VALUED = frozenset({RewardType.AMOUNT_OFF, RewardType.STORE_CREDIT})


class RewardError(Exception):
    """A reward could not be issued; the message says why, for the operator's log."""


class PoolEmpty(RewardError):
    def __init__(self, shop_id: str, pool: str) -> None:
        super().__init__(f"code pool {pool!r} of shop {shop_id!r} is empty: upload more codes")
        self.shop_id, self.pool = shop_id, pool


class CodesExhausted(RewardError):
    """Every generated code collided with one in use: far beyond chance (a broken random source)."""


class InvalidCode(ValueError):
    """An uploaded code that is not 3 to 32 of A-Z, a-z, 0-9, `_` and `-`."""


class Offer(BaseModel):
    """What a recipe asks for (also the playbook's shape of an offer)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: RewardType
    value_minor: Annotated[int, Field(gt=0, le=10**12)] | None = None
    percent: Annotated[int, Field(ge=1, le=100)] | None = None
    valid_days: Annotated[int, Field(ge=1, le=365)] = 30
    # a code pool the shop uploaded (codes its platform already knows); None: a generated code
    pool: PoolName | None = None
    # what a gift is (a product id or a name the email shows); gifts only
    gift: ShortText | None = None

    @model_validator(mode="after")
    def _worth_fits_the_type(self) -> Offer:
        if self.type in VALUED and self.value_minor is None:
            raise ValueError(f"a {self.type.value} offer needs value_minor")
        if self.type not in VALUED and self.value_minor is not None:
            raise ValueError(f"a {self.type.value} offer has no value_minor")
        if (self.type is RewardType.PERCENT_OFF) != (self.percent is not None):
            raise ValueError("percent belongs to (and is needed by) percent_off offers only")
        if self.gift is not None and self.type is not RewardType.GIFT:
            raise ValueError("gift belongs to gift offers only")
        return self


def reward_key(recipe: str, step: int, period: str) -> str:
    """A reward's key within its contact, like a message's: one reward per (recipe, step, period)."""
    return f"{recipe}#{step}#{period}"


class RewardRequest(BaseModel):
    """One reward for one contact, keyed so that it is never issued twice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: Id
    contact_id: Id
    recipe: RecipeName
    step: Step
    period: Period
    offer: Offer
    currency: Currency | None = None
    issued_at: UtcDatetime

    @model_validator(mode="after")
    def _money_has_a_currency(self) -> RewardRequest:
        if self.offer.type in VALUED and self.currency is None:
            raise ValueError(f"a {self.offer.type.value} reward needs the shop's currency")
        return self

    @property
    def key(self) -> str:
        return reward_key(self.recipe, self.step, self.period)

    @property
    def expires_at(self) -> datetime:
        return self.issued_at + timedelta(days=self.offer.valid_days)


class Reward(BaseModel):
    """One item of the ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shop_id: Id
    contact_id: Id
    code: Annotated[str, Field(min_length=3, max_length=48)]
    type: RewardType
    value_minor: int | None = None
    percent: int | None = None
    currency: Currency | None = None
    gift: ShortText | None = None
    pool: PoolName | None = None  # the pool its code was drawn from (None: generated)
    recipe: RecipeName
    step: Step
    period: Period
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    state: RewardState = RewardState.ISSUED
    redeemed_at: UtcDatetime | None = None
    order_id: ShortText | None = None
    expired_at: UtcDatetime | None = None
    reminded_at: UtcDatetime | None = None

    @classmethod
    def issue(cls, request: RewardRequest, code: str) -> Reward:
        offer = request.offer
        return cls(
            shop_id=request.shop_id,
            contact_id=request.contact_id,
            code=code,
            type=offer.type,
            value_minor=offer.value_minor,
            percent=offer.percent,
            currency=request.currency if offer.type in VALUED else None,
            gift=offer.gift,
            pool=offer.pool,
            recipe=request.recipe,
            step=request.step,
            period=request.period,
            issued_at=request.issued_at,
            expires_at=request.expires_at,
        )

    @property
    def key(self) -> str:
        return reward_key(self.recipe, self.step, self.period)

    @property
    def normalised_code(self) -> str:
        return normalise_code(self.code)

    def is_open(self, now: datetime) -> bool:
        """Still to be used: issued and not past its expiry."""
        return self.state is RewardState.ISSUED and now < self.expires_at

    # The transitions, shared by every store so that they all mean the same. Each answers None
    # when it does not apply, and a store applies it atomically (a condition on the state).

    def redeemed(self, order_id: str, at: datetime) -> Reward | None:
        """Its code came back on an order: issued -> redeemed, once.

        Past `expires_at` too: the shop's platform accepted the code (it may disable codes later
        than we expire them, or not at all), so the customer did use the offer, and a report that
        dropped it would under-count what the offer earned. A reward already marked expired stays
        expired: the bus told the shop's platform to disable the code then."""
        if self.state is not RewardState.ISSUED:
            return None
        return self.model_copy(
            update={"state": RewardState.REDEEMED, "redeemed_at": at, "order_id": order_id}
        )

    def expired(self, now: datetime) -> Reward | None:
        """issued and past `expires_at` -> expired, once."""
        if self.state is not RewardState.ISSUED or self.expires_at > now:
            return None
        return self.model_copy(update={"state": RewardState.EXPIRED, "expired_at": now})

    def reminded(self, now: datetime) -> Reward | None:
        """The expiry reminder is asked for once, and only while the reward is still issued."""
        if self.state is not RewardState.ISSUED or self.reminded_at is not None:
            return None
        return self.model_copy(update={"reminded_at": now})

    def view(self) -> dict[str, Any]:
        """The contact view's entry (docs/http-api.md): what the customer was given and its state."""
        worth: dict[str, Any] = (
            {"value_minor": self.value_minor, "currency": self.currency}
            if self.type in VALUED
            else {"percent": self.percent}
            if self.type is RewardType.PERCENT_OFF
            else {}
        )
        return {
            "code": self.code,
            "type": self.type.value,
            **worth,
            **({"gift": self.gift} if self.gift else {}),
            "state": self.state.value,
            "issued_at": isoformat(self.issued_at),
            "expires_at": isoformat(self.expires_at),
            "recipe": self.recipe,
            "step": self.step,
            **({"redeemed_at": isoformat(self.redeemed_at)} if self.redeemed_at else {}),
            **({"order_id": self.order_id} if self.order_id else {}),
        }


def normalise_code(text: str) -> str:
    """The form codes are compared in: customers type them with stray spaces and in any case."""
    return text.strip().upper()


def new_code(
    prefix: str = DEFAULT_PREFIX, length: int = CODE_LENGTH, rng: random.Random | None = None
) -> str:
    """A generated code such as `CB-7KQ4-M2XP`: the prefix, then groups of four readable symbols.

    `rng` defaults to the system's secure source: a code is worth money, so it must not be
    predictable from the ones a customer has seen."""
    if not _PREFIX.match(prefix):
        raise ValueError(f"code prefix {prefix!r} must be 1 to 8 of A-Z and 0-9")
    if not 4 <= length <= 16:
        raise ValueError("a generated code has 4 to 16 symbols")
    source = rng or random.SystemRandom()
    symbols = "".join(source.choice(CODE_ALPHABET) for _ in range(length))
    groups = [symbols[i : i + CODE_GROUP] for i in range(0, length, CODE_GROUP)]
    return "-".join([prefix, *groups])


def pool_codes(lines: Iterable[str]) -> list[str]:
    """The codes of an upload, trimmed, deduplicated (as compared: case-insensitively), in order.

    Blank lines are skipped; an invalid code raises `InvalidCode` naming its line (1-based), so
    nothing of a file with a typo is uploaded."""
    seen: set[str] = set()
    codes: list[str] = []
    for number, line in enumerate(lines, start=1):
        code = line.strip()
        if not code:
            continue
        if not POOL_CODE.match(code):
            raise InvalidCode(f"line {number}: {code[:40]!r} is not a code (3 to 32 of A-Z a-z 0-9 _ -)")
        if normalise_code(code) not in seen:
            seen.add(normalise_code(code))
            codes.append(code)
    return codes


def codes_on_order(discount_codes: Iterable[str]) -> list[str]:
    """The distinct codes an order carried, as compared (to look each up in the ledger once)."""
    return list(dict.fromkeys(normalise_code(c) for c in discount_codes if c.strip()))


class RewardStore(Protocol):
    """The ledger. Every operation is safe to repeat and to race: each change happens once."""

    def issue(self, request: RewardRequest, code_prefix: str = DEFAULT_PREFIX) -> Reward:
        """The reward of `request`: the one issued before for its key, else a new one.

        A new reward's code is unique in the shop (a generated code that collides is replaced),
        or drawn from `offer.pool`, each pool code used once; an empty pool raises `PoolEmpty`."""
        ...

    def get(self, shop_id: str, contact_id: str, key: str) -> Reward | None: ...

    def find_code(self, shop_id: str, code: str) -> Reward | None:
        """The reward a code belongs to, compared trimmed and case-insensitively."""
        ...

    def redeem(self, shop_id: str, code: str, order_id: str, at: datetime) -> Reward | None:
        """Mark the code's reward redeemed by `order_id`; None if unknown or not issued (any more)."""
        ...

    def expire(self, shop_id: str, contact_id: str, key: str, now: datetime) -> Reward | None:
        """Mark the reward expired if it is issued and `expires_at <= now`; None otherwise."""
        ...

    def mark_reminded(self, shop_id: str, contact_id: str, key: str, now: datetime) -> bool:
        """True the first time only (and only while the reward is issued)."""
        ...

    def for_contact(self, shop_id: str, contact_id: str) -> list[Reward]:
        """The contact's rewards, oldest first."""
        ...

    def upload_pool(self, shop_id: str, pool: str, codes: list[str]) -> int:
        """Add codes to a pool (validated, deduplicated); how many were new (neither in the pool
        nor ever issued)."""
        ...

    def pool_size(self, shop_id: str, pool: str) -> int: ...
