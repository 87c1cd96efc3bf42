"""An in-memory `RewardStore`, for unit tests of the domain (no moto, no sockets).

It keeps the same rules as the DynamoDB adapter, under one lock where DynamoDB has conditions
and transactions: one reward per key, a code unique per shop (compared upper-cased), a pool
code drawn once, each transition once. tests/integration/test_reward_store.py runs the same
contract against both, so the fake cannot drift from the adapter unnoticed.
"""

from __future__ import annotations

import random
import threading
from datetime import datetime

from comeback.domain.rewards import (
    DEFAULT_PREFIX,
    CodesExhausted,
    PoolEmpty,
    Reward,
    RewardRequest,
    new_code,
    normalise_code,
    pool_codes,
)

MAX_ATTEMPTS = 25


class InMemoryRewardStore:
    def __init__(self, rng: random.Random | None = None, code_length: int = 8) -> None:
        self._lock = threading.Lock()
        self._rng = rng or random.Random(0)
        self._code_length = code_length
        self.rewards: dict[tuple[str, str, str], Reward] = {}  # (shop, contact, key)
        self.codes: dict[tuple[str, str], tuple[str, str]] = {}  # (shop, CODE) -> (contact, key)
        self.pools: dict[tuple[str, str], dict[str, str]] = {}  # (shop, pool) -> CODE -> code

    def issue(self, request: RewardRequest, code_prefix: str = DEFAULT_PREFIX) -> Reward:
        where = (request.shop_id, request.contact_id, request.key)
        with self._lock:
            if where in self.rewards:
                return self.rewards[where]
            pool = request.offer.pool
            if pool is None:
                code = self._free_code(request.shop_id, code_prefix)
            else:
                code = self._draw(request.shop_id, pool)
            reward = Reward.issue(request, code)
            self.rewards[where] = reward
            self.codes[(request.shop_id, normalise_code(code))] = (request.contact_id, request.key)
            return reward

    def _free_code(self, shop_id: str, prefix: str) -> str:
        for _ in range(MAX_ATTEMPTS):
            code = new_code(prefix, self._code_length, self._rng)
            if (shop_id, normalise_code(code)) not in self.codes:
                return code
        raise CodesExhausted(f"no free code after {MAX_ATTEMPTS} tries for shop {shop_id!r}")

    def _draw(self, shop_id: str, pool: str) -> str:
        codes = self.pools.get((shop_id, pool), {})
        for normalised in sorted(codes):
            code = codes.pop(normalised)
            if (shop_id, normalised) not in self.codes:
                return code
        raise PoolEmpty(shop_id, pool)

    def get(self, shop_id: str, contact_id: str, key: str) -> Reward | None:
        with self._lock:
            return self.rewards.get((shop_id, contact_id, key))

    def find_code(self, shop_id: str, code: str) -> Reward | None:
        with self._lock:
            owner = self.codes.get((shop_id, normalise_code(code)))
            return self.rewards.get((shop_id, *owner)) if owner else None

    def _change(self, where: tuple[str, str, str], changed: Reward | None) -> Reward | None:
        if changed is not None:
            self.rewards[where] = changed
        return changed

    def redeem(self, shop_id: str, code: str, order_id: str, at: datetime) -> Reward | None:
        with self._lock:
            owner = self.codes.get((shop_id, normalise_code(code)))
            reward = self.rewards.get((shop_id, *owner)) if owner else None
            if owner is None or reward is None:
                return None
            return self._change((shop_id, *owner), reward.redeemed(order_id, at))

    def expire(self, shop_id: str, contact_id: str, key: str, now: datetime) -> Reward | None:
        with self._lock:
            reward = self.rewards.get((shop_id, contact_id, key))
            return self._change((shop_id, contact_id, key), reward.expired(now)) if reward else None

    def mark_reminded(self, shop_id: str, contact_id: str, key: str, now: datetime) -> bool:
        with self._lock:
            reward = self.rewards.get((shop_id, contact_id, key))
            return bool(reward and self._change((shop_id, contact_id, key), reward.reminded(now)))

    def for_contact(self, shop_id: str, contact_id: str) -> list[Reward]:
        with self._lock:
            found = [r for (s, c, _), r in self.rewards.items() if (s, c) == (shop_id, contact_id)]
        return sorted(found, key=lambda r: (r.issued_at, r.key))

    def upload_pool(self, shop_id: str, pool: str, codes: list[str]) -> int:
        wanted = pool_codes(codes)
        with self._lock:
            held = self.pools.setdefault((shop_id, pool), {})
            new = [
                c
                for c in wanted
                if normalise_code(c) not in held and (shop_id, normalise_code(c)) not in self.codes
            ]
            held.update({normalise_code(c): c for c in new})
            return len(new)

    def pool_size(self, shop_id: str, pool: str) -> int:
        with self._lock:
            return len(self.pools.get((shop_id, pool), {}))
