"""`comeback report winback` against a deployed stack (moto) and the local runtime."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.aws import clients as aws
from comeback.aws import keys
from comeback.aws.message_store import MessageStore
from comeback.aws.report_store import DynamoCampaignRecords
from comeback.cli.main import main
from comeback.cli.operator import Output
from comeback.domain.campaign_report import build_report
from comeback.domain.messages import MessageRequest

REGION = "us-east-1"
STACK = "comeback"
TABLE = "comeback-table"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto standing in for an account where the stack is deployed: its table and outputs."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        aws.reset()
        ddb: Any = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(**keys.table_definition(TABLE))
        outputs = {
            Output.TABLE_NAME: TABLE,
            Output.BUS_NAME: "comeback",
            Output.REGION: REGION,
            Output.SHOP_SECRET_PREFIX: "/comeback/shops/",
            Output.SECRETS_KEY_ARN: "arn:aws:kms:us-east-1:123456789012:key/x",
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
        yield ddb
        aws.reset()


def _order_item(shop: str, contact: str, event_id: str, at: datetime, total: str) -> dict[str, Any]:
    event = {
        "id": event_id,
        "type": "order.placed",
        "occurred_at": at.isoformat(),
        "customer": {"id": contact},
        "data": {"order_id": event_id, "total": total, "currency": "JPY", "items": []},
    }
    return {
        "pk": {"S": keys.contact(shop, contact)},
        "sk": {"S": keys.event(event_id)},
        "type": {"S": "order.placed"},
        "occurred_at": {"S": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        "event": {"S": json.dumps(event)},
    }


def _campaign(ddb: Any, table: str = TABLE, treated: int = 40, held: int = 20) -> None:
    """A step-1 campaign: `treated` sent (a quarter reactivate), `held` in the holdout (a tenth do)."""
    messages = MessageStore(ddb, table)
    for i in range(treated):
        request = MessageRequest(
            shop_id="acme", contact_id=f"t{i}", campaign="winback", period="2025-12-01", requested_at=T0
        )
        assert messages.claim(request, T0).won
        messages.mark_sent(request, f"ses-{i}", T0)
        if i % 2 == 0:
            messages.note("acme", f"t{i}", request.key, {"delivered_at": "2026-03-01T09:05:00.000000Z"})
        if i % 4 == 0:
            ddb.put_item(TableName=table, Item=_order_item("acme", f"t{i}", f"o-t{i}", T0 + 7 * DAY, "4980"))
    for i in range(held):
        request = MessageRequest(
            shop_id="acme", contact_id=f"h{i}", campaign="winback", period="2025-12-01", requested_at=T0
        )
        assert messages.skip(request, "holdout", T0)
        if i % 10 == 0:
            ddb.put_item(TableName=table, Item=_order_item("acme", f"h{i}", f"o-h{i}", T0 + 9 * DAY, "1200"))
    unsubscribed = MessageRequest(
        shop_id="acme", contact_id="u", campaign="winback", period="2025-12-01", requested_at=T0
    )
    assert messages.skip(unsubscribed, "unsubscribed", T0)


def test_the_table_shows_each_step_with_rates_the_interval_and_the_holdout_warning(
    deployed: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _campaign(deployed)
    assert main(["report", "winback", "--stack", STACK, "--shop", "acme"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("winback report: shop acme, as of ")
    header, step, every = lines[1], lines[2], lines[3]
    assert header.split()[:3] == ["step", "variant", "sent"]
    assert step.split()[:2] == ["1", "default"]
    assert "20 (50.0%)" in step  # delivered
    assert "25.0%" in step and "10.0%" in step  # the two reactivation rates
    assert "¥49,800" in step and "¥2,400" in step  # revenue of each group
    assert "+15.0" in step  # lift in points
    assert re.search(r"\[[-+]\d+\.\d, \+\d+\.\d\]", step)  # the interval
    assert every.split()[:2] == ["all", "all"]
    # columns line up: every number ends where its header does
    for name in ("sent", "holdout", "lift pp"):
        end = header.index(name) + len(name)
        assert step[end - 1] != " " and (end == len(step) or step[end] == " ")
    assert "in neither group: skipped: unsubscribed 1" in out
    assert any(line.startswith("warning: step 1 (default): the holdout has 20 contacts") for line in lines)


def test_the_json_has_the_numbers_of_the_report(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _campaign(deployed)
    assert main(["report", "winback", "--stack", STACK, "--format", "json", "--since", "2026-03-01"]) == 0
    document = json.loads(capsys.readouterr().out)
    records = DynamoCampaignRecords(deployed, TABLE).records(None, "winback", None)
    expected = build_report(records, as_of=datetime.fromisoformat(document["as_of"]), since=T0.date())
    assert document == json.loads(json.dumps(expected.to_dict()))
    step = document["rows"][0]
    assert (step["sent"], step["treated"]["reactivated"], step["holdout"]["contacts"]) == (40, 10, 20)
    assert step["lift"] == pytest.approx(0.15)
    assert step["lift_low"] < 0.15 < step["lift_high"]


def test_since_after_every_record_reports_nothing(deployed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _campaign(deployed)
    assert main(["report", "winback", "--stack", STACK, "--since", "2026-03-02"]) == 0
    assert "no winback records found" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--since", "March 1"], "--since wants a day as YYYY-MM-DD, got 'March 1'"),
        (["--since", "2026-02-30"], "--since wants a day as YYYY-MM-DD"),
        (["--stack", "not-deployed"], "AWS refused DescribeStacks"),
        (["--local", "http://127.0.0.1:9"], "cannot reach"),
    ],
)
def test_errors_are_one_line_on_stderr_and_status_2(
    deployed: Any, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["report", "winback", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("comeback: error: ") and says in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_the_same_report_against_the_local_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    from comeback.local.server import LocalRuntime

    local = LocalRuntime(port=0, schedules=False)
    base = local.start()
    try:
        assert main(["report", "winback", "--local", base, "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["rows"] == []
        from comeback.cli.operator import local_target

        settings = local_target(base).settings
        _campaign(aws.client("dynamodb", settings), settings.table_name, treated=8, held=4)
        assert main(["report", "winback", "--local", base, "--shop", "acme"]) == 0
        out = capsys.readouterr().out
        assert out.splitlines()[2].split()[:3] == ["1", "default", "8"]
    finally:
        local.stop()
        aws.reset()
