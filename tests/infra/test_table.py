"""The table is `keys.table_definition` (the one the local runtime creates) plus production settings."""

from __future__ import annotations

from typing import Any

from comeback.aws import keys
from tests.infra.helpers import Synth


def _table(synth: Synth) -> tuple[str, dict[str, Any]]:
    ((logical_id, table),) = synth.of_type("AWS::DynamoDB::Table").items()
    return logical_id, table


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {item[key]: item for item in items}


def test_table_has_the_key_schema_attributes_and_due_index_of_table_definition(default: Synth) -> None:
    _, table = _table(default)
    props = table["Properties"]
    definition = keys.table_definition(props["TableName"])
    assert props["TableName"] == default.context["stack_name"]
    assert props["KeySchema"] == definition["KeySchema"]
    assert _by_name(props["AttributeDefinitions"], "AttributeName") == _by_name(
        definition["AttributeDefinitions"],
        "AttributeName",  # type: ignore[arg-type]
    )
    assert _by_name(props["GlobalSecondaryIndexes"], "IndexName") == _by_name(
        definition["GlobalSecondaryIndexes"],
        "IndexName",  # type: ignore[arg-type]
    )
    assert props["BillingMode"] == definition["BillingMode"] == "PAY_PER_REQUEST"


def test_table_is_protected_and_expires_items(default: Synth) -> None:
    _, table = _table(default)
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": keys.TTL, "Enabled": True}
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
