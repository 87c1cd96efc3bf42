"""Cross-sell: products that go with an order, `after_days` after it (campaign `crosssell`).

What goes with an order comes from the shop's playbook first: `products` (a product id -> related
products, accessories) and `categories` (a category -> related products). Where the map names
nothing for the order, from the shop's own orders: the products most often bought together with
the order's (`comeback.domain.products.bought_together`), a pair counting only once at least
`min_support` orders held both. Never a product the customer bought (`Profile.products`), and
only products the shop's events described (a name at least), shown as blocks: name, image,
price, link.

One email per order at most (its period is the order): the latest order's, so two orders a week
apart make one email, about the second. An order's products are kept in the state when it
arrives; what to suggest is decided when it is due, on what the shop's orders taught by then,
and checked again at send time (a product bought in between is left out; none left, no email).
A deterministic `holdout_percent` of those due gets no email, recorded, so the lift is measured.
A sweep more than `STALE` late sends nothing for that order (a backfilled history, a sweep that
did not run).

Upsell (`comeback.recipes.upsell`) is the same recipe with the shop's map of upgrades only.

State (`Profile.recipes["crosssell"]`): `order` (its id), `at` (its time), `basis` (its counted
products), `categories`, and `done` (the order last handled: sent, held out or skipped).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import Id, OrderPlaced, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.products import MAX_COUNTED, ProductInfo, ProductReader, bought_together, counted
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes.base import (
    NOTHING,
    Ask,
    Decision,
    FastEffect,
    Recipe,
    RecipeSettings,
    in_holdout,
    reward_context,
    state_of,
)

NAME = "crosssell"
STALE = timedelta(days=7)
# candidates looked up per product shown: some may be unknown to the catalogue (no name)
LOOKAHEAD = 3
_PERIOD = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")

Related = Annotated[list[Id], Field(max_length=20)]


class Suggestions(RecipeSettings):
    after_days: Annotated[int, Field(ge=1, le=365)]
    # how many products one email shows
    max_products: Annotated[int, Field(ge=1, le=6)] = 3
    # the shop's own map: a product id -> products to suggest with it (checked first) ...
    products: Annotated[dict[Id, Related], Field(max_length=5000)] = Field(default_factory=dict)
    # ... and a category -> products (for the order's products the first map does not name)
    categories: Annotated[dict[Annotated[str, Field(max_length=512)], Related], Field(max_length=1000)] = (
        Field(default_factory=dict)
    )
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 10


class CrossSell(Suggestions):
    after_days: Annotated[int, Field(ge=1, le=365)] = 14
    # where the map names nothing: products bought together in this shop's orders
    co_occurrence: bool = True
    # a pair counts once at least this many orders held both
    min_support: Annotated[int, Field(ge=1, le=10_000)] = 3


def period_of(order_id: str) -> str:
    """A message period naming the order (a hash where the shop's id has other characters)."""
    if _PERIOD.fullmatch(order_id):
        return order_id
    return "o-" + hashlib.sha256(order_id.encode()).hexdigest()[:24]


def from_map(rules: Suggestions, basis: list[str], categories: list[str]) -> list[str]:
    """What the shop's map says goes with these products: by product first, then by category."""
    found: list[str] = []
    for pid in basis:
        found.extend(rules.products.get(pid, ()))
    for category in categories:
        found.extend(rules.categories.get(category, ()))
    return list(dict.fromkeys(found))


class SuggestingRecipe(Recipe):
    """A message of products that go with the customer's latest order, `after_days` after it."""

    topic = "recommendations"
    reads_products = True
    # the pool a suggestion may come from when the shop's map names nothing (cross-sell only)
    learns: ClassVar[bool] = False

    def rules(self, playbook: Playbook) -> Suggestions:
        section = playbook.section(self.section_key)
        assert isinstance(section, Suggestions)
        return section

    # -- events --------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced):
            return None  # the order's products go into the state: the slow path records them
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        if not isinstance(event, OrderPlaced) or not event.data.items:
            return NOTHING
        state = state_of(after, self.name)
        at = isoformat(event.occurred_at)
        order = event.data.order_id
        if order in (state.get("order"), state.get("done")) or (state.get("at") and state["at"] > at):
            return NOTHING  # this order again (another event id), or an older one arriving late
        basis = counted(event.data)
        categories = sorted(event.data.categories)[:MAX_COUNTED]
        new = {"order": order, "at": at, "basis": basis, "categories": categories}
        if state.get("done"):
            new["done"] = state["done"]
        return Decision(state=new)

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        state = state_of(profile, self.name)
        if profile.erased_at or profile.merged_into or not state.get("order"):
            return None
        if state.get("done") == state["order"]:
            return None
        return parse_iso(state["at"]) + timedelta(days=self.rules(playbook).after_days)

    def plan_with(
        self, profile: Profile, playbook: Playbook, now: datetime, products: ProductReader
    ) -> Decision:
        due = self.next_due(profile, playbook)
        if due is None or due > now:
            return NOTHING
        state = state_of(profile, self.name)
        done = {**state, "done": state["order"]}
        if now - due > STALE:
            return Decision(state=done, skipped=("stale",))
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=done, skipped=(blocked,))
        picks = self.pick(profile, state, playbook, products)
        if not picks:
            return Decision(state=done, skipped=("no_suggestions",))
        rules = self.rules(playbook)
        period = period_of(state["order"])
        holdout = in_holdout(profile.shop_id, profile.contact_id, period, self.name, rules.holdout_percent)
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=self.name,
            step=1,
            period=period,
            requested_at=now,
            not_after=due + STALE,
            basis=period,
            data={"order_id": state["order"], "products": [p.block() for p in picks]},
            topic_of=self.topic,
            priority_of=self.priority,
            holdout=holdout,
        )
        return Decision(state=done, asks=(Ask(message),))

    def pick(
        self, profile: Profile, state: dict[str, Any], playbook: Playbook, products: ProductReader
    ) -> list[ProductInfo]:
        """The products to show: the map's, else (cross-sell) the shop's co-occurrence; described by
        the catalogue, never bought by this customer nor in the order itself."""
        rules = self.rules(playbook)
        basis = [str(p) for p in state.get("basis", [])]
        bought = set(profile.products) | set(basis)
        candidates = [p for p in from_map(rules, basis, list(state.get("categories", []))) if p not in bought]
        if not candidates and self.learns and isinstance(rules, CrossSell) and rules.co_occurrence:
            entries = products.products(profile.shop_id, basis)
            candidates = bought_together(entries, basis, bought, rules.min_support)
        wanted = candidates[: rules.max_products * LOOKAHEAD]
        if not wanted:
            return []
        known = products.products(profile.shop_id, wanted)
        shown = [known[p] for p in wanted if p in known and known[p].name]
        return shown[: rules.max_products]

    # -- sending ---------------------------------------------------------------------------------
    def still_wanted(
        self, profile: Profile, request: MessageRequest, playbook: Playbook, now: datetime
    ) -> str | None:
        if request.data.get("products") and not _not_bought(profile, request):
            return "bought"  # every product it shows was bought since it was chosen
        return None

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        return {**reward_context(request), "products": _not_bought(profile, request)}


def _not_bought(profile: Profile, request: MessageRequest) -> list[dict[str, Any]]:
    blocks = request.data.get("products") or []
    return [b for b in blocks if isinstance(b, dict) and b.get("product_id") not in profile.products]


class CrossSellRecipe(SuggestingRecipe):
    name: ClassVar[str] = NAME
    priority = 4
    section_key = NAME
    settings_model = CrossSell
    learns = True


RECIPE = CrossSellRecipe()
