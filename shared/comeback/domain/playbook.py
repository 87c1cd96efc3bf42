"""A shop's playbook: which recipes are on and how they are tuned (YAML, validated by pydantic).

A shop's own playbook is laid over the shipped default (`playbooks/default.yaml`) key by key, so a
shop writes only what it changes. Unknown keys are errors: a typo must not silently do nothing.
"""

from __future__ import annotations

from datetime import time
from functools import cache, lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from comeback.domain.events import KnownCurrency, Locale, TimeZoneName
from comeback.domain.prediction_model import FittedModel
from comeback.domain.segments import Segmentation


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sender(Strict):
    from_name: Annotated[str, Field(min_length=1, max_length=128)]
    from_email: EmailStr
    reply_to: EmailStr | None = None


class ShopSettings(Strict):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    timezone: TimeZoneName
    default_locale: Locale
    currency: KnownCurrency
    sender: Sender
    postal_address: Annotated[str, Field(min_length=5, max_length=512)]
    url: Annotated[str, Field(pattern=r"^https?://", max_length=512)]
    # the shop's own team: privacy requests (a customer's data export) are mailed here; without
    # it, to the sender's reply_to, else its from_email (comeback.privacy.team_address)
    team_email: EmailStr | None = None


class FrequencyCap(Strict):
    max: Annotated[int, Field(ge=1, le=100)]
    days: Annotated[int, Field(ge=1, le=90)]


class QuietHours(Strict):
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours start and end at the same time; leave quiet_hours out instead")
        return self


class Messaging(Strict):
    frequency_caps: Annotated[list[FrequencyCap], Field(max_length=5)]
    quiet_hours: QuietHours | None
    # a message held back by a cap or quiet hours that cannot go out within this many days of
    # being asked for is dropped (unless the campaign set its own, earlier, limit)
    max_delay_days: Annotated[int, Field(ge=1, le=60)]
    # shop-written templates, laid over the shipped ones: {"ja/winback.html.j2": "..."}
    templates: dict[
        Annotated[str, Field(pattern=r"^(_layout\.(html|txt)|(ja|en)/[a-z]+\.(html|txt))\.j2$")],
        Annotated[str, Field(max_length=100_000)],
    ]

    @model_validator(mode="after")
    def _templates_parse(self) -> Messaging:
        from comeback.messaging.render import RenderError, check_template  # jinja2 only when a shop has some

        for name, source in self.templates.items():
            try:
                check_template(source)
            except RenderError as exc:
                raise ValueError(f"template {name}: {exc}") from exc
        return self


class Playbook(Strict):
    """A shop's playbook. Each recipe's section (`winback:`, `lifecycle:` ...) is validated by the
    recipe's own model (`comeback.recipes`); the playbook knows none of them by name."""

    shop: ShopSettings
    consent: Literal["explicit", "opt_out"]
    messaging: Messaging
    recipes: dict[str, Any] = Field(default_factory=dict)  # section key -> the recipe's settings
    # not the shop's to write: the RFM cut points the daily job last computed, laid on by the shop
    # directory (`with_segmentation`), so a recipe sees the shop's tuning and its segments together
    segmentation: Segmentation | None = Field(default=None, exclude=True)
    # nor this: the shop's fitted BG/NBD and Gamma-Gamma, from the same daily job (`with_predictions`)
    predictions: FittedModel | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _recipe_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "recipes" in data:
            raise ValueError("unknown key 'recipes': a recipe's settings go under its own key")
        if "segmentation" in data:
            raise ValueError("unknown key 'segmentation': segments are computed daily, not written")
        if "predictions" in data:
            raise ValueError("unknown key 'predictions': the model is fitted daily, not written")
        from pydantic import ValidationError

        from comeback.recipes.registry import sections  # the recipes import this module

        data = dict(data)
        found: dict[str, Any] = {}
        for key, model in sections().items():
            try:
                found[key] = model.model_validate(data.pop(key, {}))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{key}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    if e["loc"]
                    else f"{key}: {e['msg']}"
                    for e in exc.errors()
                )
                raise ValueError(problems) from None
        data["recipes"] = found
        return data

    def with_segmentation(self, segmentation: Segmentation | None) -> Playbook:
        return (
            self
            if segmentation == self.segmentation
            else self.model_copy(update={"segmentation": segmentation})
        )

    def with_predictions(self, model: FittedModel | None) -> Playbook:
        return self if model == self.predictions else self.model_copy(update={"predictions": model})

    def section(self, key: str) -> Any:
        """A recipe's settings (its pydantic model), by the recipe's section key."""
        return self.recipes[key]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid over `base`, mapping by mapping; a mapping that names its `type` (an offer) is
    replaced whole: a shop's amount off is not the default's percent off with a value added."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and "type" not in value:
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@cache
def _default_document() -> dict[str, Any]:
    text = resources.files("comeback.domain.playbooks").joinpath("default.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def load(document: str | dict[str, Any] | None = None) -> Playbook:
    """The default playbook with `document` (YAML text or a mapping) laid over it."""
    if isinstance(document, str) or document is None:
        return _load_text(document or "")
    return _build(document)


@lru_cache(maxsize=256)
def _load_text(text: str) -> Playbook:
    # Shop configs are re-read from a cache every few minutes; parsing the same YAML again is waste.
    return _build(yaml.safe_load(text) if text.strip() else {})


def _build(document: Any) -> Playbook:
    over: Any = document or {}
    if not isinstance(over, dict):
        raise ValueError("a playbook is a YAML mapping")
    return Playbook.model_validate(_deep_merge(_default_document(), over))


@cache
def default() -> Playbook:
    return load()
