"""The JSON Schemas and the OpenAPI document in events/ are what the models generate today, and every
sample in events/shop and events/engine is valid by its schema (and its model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from comeback.cli.schemas import rendered
from comeback.domain.notices import (
    NOTICE_MODELS,
    NOTICE_TYPES,
    Notice,
    RewardNotice,
    RewardRedeemed,
    StageChanged,
    TaskCreated,
    reward_notice,
    stage_changed,
    task_created,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_committed_schemas_and_openapi_match_the_models() -> None:
    stale = [
        str(path.relative_to(EVENTS))
        for path, text in rendered(EVENTS).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `make schemas` and commit: {stale}"


def test_the_openapi_document_names_every_public_route() -> None:
    text = (EVENTS / "openapi.json").read_text(encoding="utf-8")
    for route in ("/v1/shops/{shop_id}/events", "/v1/unsubscribe/{token}", "/webhooks/shopify", "/segment"):
        assert route in text, route


# -- every sample against its committed schema and its model ------------------------------------------
SAMPLES = sorted((EVENTS / "engine").glob("*.json")) + sorted((EVENTS / "shop").glob("*.json"))


def _schema_of(sample: Path) -> dict[str, object]:
    return json.loads((EVENTS / "schemas" / sample.name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_every_engine_bus_event_has_a_sample() -> None:
    assert {p.stem for p in (EVENTS / "engine").glob("*.json")} == set(NOTICE_TYPES)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_validates_against_its_json_schema(sample: Path) -> None:
    document = json.loads(sample.read_text(encoding="utf-8"))
    schema = _schema_of(sample)
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
    assert not errors, errors


@pytest.mark.parametrize("sample", sorted((EVENTS / "engine").glob("*.json")), ids=lambda p: p.name)
def test_every_engine_sample_is_its_model_with_the_id_its_constructor_gives(sample: Path) -> None:
    document = json.loads(sample.read_text(encoding="utf-8"))
    notice = NOTICE_MODELS[sample.stem].model_validate(document)
    assert notice.detail() == document  # nothing dropped, nothing added: the detail as published
    if isinstance(notice, StageChanged):
        fields = notice.model_dump(exclude={"id"})
        rebuilt: Notice = stage_changed(**fields)
    elif isinstance(notice, TaskCreated):
        rebuilt = task_created(**notice.model_dump(exclude={"id"}))
    else:
        assert isinstance(notice, RewardNotice)
        rebuilt = reward_notice(sample.stem, **notice.model_dump(exclude={"id", "state"}))  # type: ignore[arg-type]
    assert rebuilt == notice


def test_a_schema_refuses_what_its_model_refuses() -> None:
    redeemed = json.loads((EVENTS / "engine" / "reward.redeemed.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(_schema_of(EVENTS / "engine" / "reward.redeemed.json"))
    for broken in (
        {**redeemed, "state": "issued"},
        {k: v for k, v in redeemed.items() if k != "order_id"},
        {**redeemed, "type": "bogo"},
        {**redeemed, "surprise": 1},
    ):
        assert not validator.is_valid(broken)
        with pytest.raises(ValidationError):
            RewardRedeemed.model_validate(broken)
    feedback = json.loads((EVENTS / "shop" / "feedback.submitted.json").read_text(encoding="utf-8"))
    feedback["data"]["reason"] = "too expensive"
    assert not Draft202012Validator(_schema_of(EVENTS / "shop" / "feedback.submitted.json")).is_valid(
        feedback
    )
