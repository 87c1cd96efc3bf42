"""`comeback rewards upload-codes|list` against a deployed stack (moto) and a local runtime."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.app.settings import Settings
from comeback.aws import clients as aws
from comeback.aws import keys
from comeback.aws.contact_store import ContactStore
from comeback.aws.reward_store import DynamoRewardStore
from comeback.cli.main import main
from comeback.cli.operator import Output
from comeback.domain import playbook
from comeback.domain.events import parse_event
from comeback.domain.rewards import Offer, RewardRequest
from tests.support import order

REGION = "us-east-1"
STACK = "comeback"
TABLE = "comeback-table"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """moto standing in for an account with the stack deployed and shop `acme` created."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        aws.reset()
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(**keys.table_definition(TABLE))
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        outputs = {
            Output.TABLE_NAME: TABLE,
            Output.BUS_NAME: "comeback",
            Output.REGION: REGION,
            Output.SHOP_SECRET_PREFIX: "/comeback/shops/",
            Output.SECRETS_KEY_ARN: key_arn,
            Output.PUBLIC_BASE_URL: "https://abc123.execute-api.us-east-1.amazonaws.com",
            Output.TOKEN_KEY_SECRET: "/comeback/unsubscribe-key",
            Output.SES_CONFIGURATION_SET: "comeback",
            Output.STAGE: "prod",
        }
        template = {
            "Resources": {
                "Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "placeholder"}}
            },
            "Outputs": {str(k): {"Value": v} for k, v in outputs.items()},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        assert main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme Tea"]) == 0
        capsys.readouterr()
        yield ddb
        aws.reset()


def _issue(ddb: Any, table: str, shop: str, contact: str, step: int, offer: Offer) -> str:
    asked = RewardRequest(
        shop_id=shop,
        contact_id=contact,
        recipe="winback",
        step=step,
        period="2025-12-01",
        offer=offer,
        currency="JPY",
        issued_at=T0,
    )
    return DynamoRewardStore(ddb, table).issue(asked).code


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_upload_codes_adds_the_new_codes_of_the_file_and_says_how_many_are_left(
    deployed: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("SPRING-001\nSPRING-002\n\n  spring-003  \nSPRING-001\n", encoding="utf-8")
    status, out, _ = _run(
        capsys, "rewards", "upload-codes", "acme", "spring", "--file", str(codes), "--stack", STACK
    )
    assert status == 0
    assert out == "pool spring of shop acme: 3 new codes added; 3 codes left to issue\n"

    codes.write_text("SPRING-002\nSPRING-004\n", encoding="utf-8")
    status, out, _ = _run(capsys, "rewards", "upload-codes", "acme", "spring", "--file", str(codes))
    assert status == 0
    assert out == (
        "pool spring of shop acme: 1 new codes added (1 already in the pool or issued before, skipped);"
        " 4 codes left to issue\n"
    )
    drawn = _issue(deployed, TABLE, "acme", "c-1", 2, Offer(type="percent_off", percent=10, pool="spring"))
    assert drawn in {"SPRING-001", "SPRING-002", "spring-003", "SPRING-004"}
    assert DynamoRewardStore(deployed, TABLE).pool_size("acme", "spring") == 3


@pytest.mark.parametrize(
    ("argv", "content", "message"),
    [
        (["acme", "spring"], "GOOD-1\nnot a code\n", "line 2: 'not a code' is not a code"),
        (["acme", "spring"], "\n\n", "no codes in it"),
        (["acme", "Spring Pool"], "GOOD-1\n", "pool name 'Spring Pool'"),
        (["nobody", "spring"], "GOOD-1\n", "no shop 'nobody'"),
    ],
)
def test_upload_codes_refuses_bad_input_in_one_line_with_status_2_and_uploads_nothing(
    deployed: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    content: str,
    message: str,
) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text(content, encoding="utf-8")
    status, out, err = _run(capsys, "rewards", "upload-codes", *argv, "--file", str(codes))
    assert (status, out) == (2, "")
    assert err.startswith("comeback: error: ") and message in err and len(err.splitlines()) == 1
    assert DynamoRewardStore(deployed, TABLE).pool_size(argv[0], argv[1]) == 0


def test_upload_codes_names_a_file_that_is_not_there(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(capsys, "rewards", "upload-codes", "acme", "spring", "--file", "/nowhere/codes.txt")
    assert status == 2 and "no such file: /nowhere/codes.txt" in err


def test_list_shows_each_reward_with_its_worth_and_state_by_customer_id_or_email(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = ContactStore(deployed, TABLE, 4)
    customer = {"id": "c-1", "email": "hanako@example.com"}
    contacts.apply("acme", parse_event(order("o-1", "2025-09-01T00:00:00Z", customer)), playbook.default())
    shipping = _issue(deployed, TABLE, "acme", "c-1", 2, Offer(type="free_shipping"))
    amount = _issue(deployed, TABLE, "acme", "c-1", 3, Offer(type="amount_off", value_minor=500))
    DynamoRewardStore(deployed, TABLE).redeem("acme", amount, "o-2", T0)

    status, out, _ = _run(capsys, "rewards", "list", "acme", "c-1")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == ["code", "type", "worth", "state", "issued", "expires", "recipe", "order"]
    assert rows[0].split() == [
        shipping,
        "free_shipping",
        "free",
        "shipping",
        "issued",
        "2026-03-01",
        "2026-03-31",
        "winback",
        "2",
    ]
    assert rows[1].split() == [
        amount,
        "amount_off",
        "¥500",
        "redeemed",
        "2026-03-01",
        "2026-03-31",
        "winback",
        "3",
        "o-2",
    ]

    status, out, _ = _run(capsys, "rewards", "list", "acme", "HANAKO@example.com", "--format", "json")
    document = json.loads(out)
    assert status == 0 and document["contact_id"] == "c-1"
    assert [(r["code"], r["state"]) for r in document["rewards"]] == [
        (shipping, "issued"),
        (amount, "redeemed"),
    ]
    assert document["rewards"][1]["value_minor"] == 500 and document["rewards"][1]["order_id"] == "o-2"


def test_list_says_when_there_is_nothing_and_refuses_an_unknown_email(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "rewards", "list", "acme", "c-404") == (0, "no rewards for c-404 in shop acme\n", "")
    status, _, err = _run(capsys, "rewards", "list", "acme", "nobody@example.com")
    assert status == 2 and "no contact 'nobody@example.com' in shop 'acme'" in err
    status, _, err = _run(capsys, "rewards", "list", "nobody", "c-1")
    assert status == 2 and "no shop 'nobody'" in err


@pytest.fixture
def local_runtime() -> Iterator[str]:
    from comeback.local.server import LocalRuntime

    local = LocalRuntime(port=0)
    base = local.start()
    try:
        yield base
    finally:
        local.stop()
        aws.reset()


def test_the_same_commands_work_against_the_local_runtime(
    local_runtime: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = tmp_path / "codes.txt"
    codes.write_text("LOCAL-1\nLOCAL-2\n", encoding="utf-8")
    status, out, _ = _run(
        capsys, "rewards", "upload-codes", "demo", "spring", "--file", str(codes), "--local", local_runtime
    )
    assert status == 0 and "2 new codes added; 2 codes left" in out

    with urllib.request.urlopen(f"{local_runtime}/_local/settings", timeout=10) as answer:
        settings = Settings.model_validate(json.load(answer))
    ddb = aws.client("dynamodb", settings)
    code = _issue(
        ddb, settings.table_name, "demo", "c-7", 1, Offer(type="percent_off", percent=10, pool="spring")
    )
    status, out, _ = _run(capsys, "rewards", "list", "demo", "c-7", "--local", local_runtime)
    assert status == 0 and code in out and "10%" in out and "issued" in out
