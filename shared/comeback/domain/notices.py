"""What the engine tells a shop's other systems: one model per bus detail-type.

The engine publishes these on its bus with source `comeback.engine` (`ENGINE_SOURCE` in
`comeback.app.topology`), detail-type the model's `DETAIL_TYPE` and detail `notice.detail()`:

    BusEntry(ENGINE_SOURCE, notice.DETAIL_TYPE, notice.detail())

They are for the shop's platform (a CRM following stages, a store syncing discount codes), not for
comeback's own functions: no rule of ours takes them to a queue. The bus delivers at least once, so
every notice carries an `id` computed from what it says (`stage_changed`, `reward_notice`): the same
change published twice has the same id, and a consumer deduplicates by `shop_id` + `id`.
Their JSON Schemas are in `events/schemas/` and a sample of each in `events/engine/`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from comeback.domain.clock import isoformat, utc

if TYPE_CHECKING:
    from comeback.domain.rewards import Reward

Stage = Literal["new", "active", "engaged", "at_risk", "lapsed", "lost", "won_back"]
STAGES: tuple[Stage, ...] = ("new", "active", "engaged", "at_risk", "lapsed", "lost", "won_back")
RewardType = Literal["free_shipping", "amount_off", "percent_off", "gift", "store_credit"]
RewardState = Literal["issued", "redeemed", "expired"]
RewardKind = Literal["reward.issued", "reward.redeemed", "reward.expired"]

Id = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
UtcTime = Annotated[datetime, AfterValidator(utc)]


def notice_id(kind: str, *parts: str) -> str:
    """`<kind>:<32 hex>`, the same for the same parts: what consumers deduplicate on."""
    digest = hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


class Notice(BaseModel):
    """What every notice has: its id and whose it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    DETAIL_TYPE: ClassVar[str]

    id: Id = Field(description="The same for the same change: deduplicate by shop_id + id.")
    shop_id: Id
    contact_id: Id = Field(description="comeback's id of the contact (the shop's customer id when known).")
    customer_id: Id | None = Field(description="The shop's own customer id; null for email-only contacts.")

    def detail(self) -> dict[str, Any]:
        """The bus event's `detail`: JSON, times in ISO 8601 UTC with `Z`."""
        return self.model_dump(mode="json")


class StageChanged(Notice):
    """A contact moved from one lifecycle stage to another."""

    DETAIL_TYPE: ClassVar[str] = "contact.stage_changed"

    from_stage: Stage | None = Field(description="null when the contact is new to the engine.")
    to_stage: Stage
    changed_at: UtcTime
    reason: Text = Field(description='Why, in a few words: "no activity for 60 days".')


class RewardNotice(Notice):
    """A reward of the ledger, as it stands after the change the detail-type names."""

    DETAIL_TYPE: ClassVar[str]

    code: Id = Field(description="The discount code, unique per shop.")
    type: RewardType
    value_minor: Annotated[int, Field(ge=0)] | None = Field(
        description="amount_off / store_credit: the amount in minor units of `currency`."
    )
    percent: Annotated[int, Field(ge=1, le=100)] | None = Field(description="percent_off: the percentage.")
    currency: Currency | None
    recipe: Id = Field(description="The recipe that issued it: winback ...")
    step: Annotated[int, Field(ge=0)]
    issued_at: UtcTime
    expires_at: UtcTime
    state: RewardState

    @model_validator(mode="after")
    def _consistent(self) -> RewardNotice:
        if self.type in ("amount_off", "store_credit") and (self.value_minor is None or not self.currency):
            raise ValueError(f"a {self.type} reward needs value_minor and currency")
        if self.type == "percent_off" and self.percent is None:
            raise ValueError("a percent_off reward needs percent")
        if self.expires_at < self.issued_at:
            raise ValueError("expires_at is before issued_at")
        return self


class RewardIssued(RewardNotice):
    DETAIL_TYPE: ClassVar[str] = "reward.issued"
    state: Literal["issued"]


class RewardRedeemed(RewardNotice):
    DETAIL_TYPE: ClassVar[str] = "reward.redeemed"
    state: Literal["redeemed"]
    order_id: Id = Field(description="The order whose discount_codes carried the code.")
    redeemed_at: UtcTime


class RewardExpired(RewardNotice):
    DETAIL_TYPE: ClassVar[str] = "reward.expired"
    state: Literal["expired"]
    expired_at: UtcTime


REWARD_MODELS: dict[str, type[RewardNotice]] = {
    model.DETAIL_TYPE: model for model in (RewardIssued, RewardRedeemed, RewardExpired)
}


class TaskCreated(Notice):
    """A follow-up task for the shop's team was opened (an NPS detractor): someone should answer.

    It is announced once, when the task is first stored; its `id` is the task's. No address is on
    the bus: the team's email and the stack's SNS topic carry the customer's, the bus the ids.
    """

    DETAIL_TYPE: ClassVar[str] = "task.created"

    task_id: Id = Field(description="What `comeback tasks done TASK_ID` and feedback.responded name.")
    kind: Literal["detractor"]
    survey: Id = Field(description='The survey answered: "nps".')
    score: Annotated[int, Field(ge=0, le=10)] | None
    comment: Annotated[str, Field(max_length=4000)] | None
    orders_count: Annotated[int, Field(ge=0)]
    total_spent_minor: Annotated[int, Field(ge=0)] = Field(description="Minor units of `currency`.")
    currency: Currency | None
    last_order_at: UtcTime | None
    created_at: UtcTime


NOTICE_MODELS: dict[str, type[Notice]] = {
    StageChanged.DETAIL_TYPE: StageChanged,
    **REWARD_MODELS,
    TaskCreated.DETAIL_TYPE: TaskCreated,
}
NOTICE_TYPES = tuple(NOTICE_MODELS)


def stage_changed(
    shop_id: str,
    contact_id: str,
    customer_id: str | None,
    from_stage: Stage | None,
    to_stage: Stage,
    changed_at: datetime,
    reason: str,
) -> StageChanged:
    """The notice of one stage change; its id comes from shop, contact, new stage and time."""
    return StageChanged(
        id=notice_id(StageChanged.DETAIL_TYPE, shop_id, contact_id, to_stage, isoformat(changed_at)),
        shop_id=shop_id,
        contact_id=contact_id,
        customer_id=customer_id,
        from_stage=from_stage,
        to_stage=to_stage,
        changed_at=changed_at,
        reason=reason,
    )


def task_created(**fields: Any) -> TaskCreated:
    """The notice of a new follow-up task; its id comes from shop and task (each is opened once)."""
    return TaskCreated(id=notice_id(TaskCreated.DETAIL_TYPE, fields["shop_id"], fields["task_id"]), **fields)


def reward_notice(
    kind: RewardKind,
    *,
    shop_id: str,
    contact_id: str,
    customer_id: str | None,
    code: str,
    type: RewardType,
    recipe: str,
    step: int,
    issued_at: datetime,
    expires_at: datetime,
    value_minor: int | None = None,
    percent: int | None = None,
    currency: str | None = None,
    order_id: str | None = None,
    redeemed_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> RewardNotice:
    """The notice of a reward issued, redeemed or expired, from the ledger item's plain fields.

    A code is unique per shop and each reward is issued, redeemed and expired at most once, so the
    id comes from shop, code and kind. Fields that do not belong to `kind` (a redeemed_at for an
    expiry) are refused rather than dropped.
    """
    model = REWARD_MODELS[kind]
    extra: dict[str, Any] = {}
    if order_id is not None or redeemed_at is not None:
        extra.update(order_id=order_id, redeemed_at=redeemed_at)
    if expired_at is not None:
        extra["expired_at"] = expired_at
    return model(
        id=notice_id(kind, shop_id, code),
        state=kind.removeprefix("reward."),
        shop_id=shop_id,
        contact_id=contact_id,
        customer_id=customer_id,
        code=code,
        type=type,
        value_minor=value_minor,
        percent=percent,
        currency=currency,
        recipe=recipe,
        step=step,
        issued_at=issued_at,
        expires_at=expires_at,
        **extra,
    )


def reward_notice_of(kind: RewardKind, reward: Reward, customer_id: str | None) -> RewardNotice:
    """The notice of `kind` for a reward as the ledger holds it (only the fields of that kind)."""
    return reward_notice(
        kind,
        shop_id=reward.shop_id,
        contact_id=reward.contact_id,
        customer_id=customer_id,
        code=reward.code,
        type=reward.type.value,
        recipe=reward.recipe,
        step=reward.step,
        issued_at=reward.issued_at,
        expires_at=reward.expires_at,
        value_minor=reward.value_minor,
        percent=reward.percent,
        currency=reward.currency,
        order_id=reward.order_id if kind == "reward.redeemed" else None,
        redeemed_at=reward.redeemed_at if kind == "reward.redeemed" else None,
        expired_at=reward.expired_at if kind == "reward.expired" else None,
    )
