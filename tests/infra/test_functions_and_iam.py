"""Every function: runtime, layer, logging, settings; every role: least privilege."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from comeback.app.settings import Settings
from comeback.app.topology import TOPOLOGY, TRACED_BY_DEFAULT
from tests.infra.helpers import ROOT, Synth, as_list, flat, function_id, ref_id, statements

FUNCTIONS = [f.name for f in TOPOLOGY.functions]


def _env(synth: Synth, name: str) -> dict[str, Any]:
    return synth.props(function_id(synth, name))["Environment"]["Variables"]


def _role(synth: Synth, name: str) -> str:
    return ref_id(synth.props(function_id(synth, name))["Role"])


def _allowed(synth: Synth, name: str) -> list[tuple[str, str]]:
    """(action, resource as text) pairs the function's role allows."""
    pairs = []
    for statement in statements(synth, _role(synth, name)):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                pairs.append((action, flat(resource)))
    return pairs


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runs_python313_on_arm64_with_the_layer(default: Synth, name: str) -> None:
    props = default.props(function_id(default, name))
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.lambda_handler"
    (layer,) = props["Layers"]
    layer_props = default.props(ref_id(layer))
    assert layer_props["CompatibleRuntimes"] == ["python3.13"]
    assert layer_props["CompatibleArchitectures"] == ["arm64"]


def _traced(synth: Synth, name: str) -> bool:
    """Whether the function is traced, checked to agree everywhere it shows: the tracing mode,
    Powertools' switch, the role's X-Ray grant."""
    props = synth.props(function_id(synth, name))
    active = props.get("TracingConfig") == {"Mode": "Active"}
    assert props.get("TracingConfig") in ({"Mode": "Active"}, None), name
    disabled = props["Environment"]["Variables"].get("POWERTOOLS_TRACE_DISABLED")
    assert disabled == (None if active else "true"), name
    xray = {a for a, _ in _allowed(synth, name) if a.startswith("xray:")}
    assert xray == ({"xray:PutTraceSegments", "xray:PutTelemetryRecords"} if active else set()), name
    return active


def test_x_ray_traces_the_sender_and_the_sweep_unless_the_context_names_others(
    default: Synth, variant: Synth
) -> None:
    assert {n for n in FUNCTIONS if _traced(default, n)} == set(TRACED_BY_DEFAULT) == {"sender", "sweep"}
    # VARIANT: -c traced_functions=ingest,sender
    assert {n for n in FUNCTIONS if _traced(variant, n)} == {"ingest", "sender"}


def test_handler_code_is_each_function_folder_as_an_asset(default: Synth) -> None:
    assets = json.loads((default.outdir / "Comeback.assets.json").read_text(encoding="utf-8"))["files"]
    for name in FUNCTIONS:
        key = default.props(function_id(default, name))["Code"]["S3Key"]
        staged = default.outdir / assets[key.removesuffix(".zip")]["source"]["path"]
        assert (staged / "handler.py").read_bytes() == (ROOT / "functions" / name / "handler.py").read_bytes()
        # the bytecode compiled for Lambda's CPython 3.13 at synthesis, none left by this machine
        assert [p.name for p in staged.rglob("*.pyc")] == ["handler.cpython-313.pyc"], name


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_json_to_its_own_group_with_the_retention(default: Synth, name: str) -> None:
    logging = default.props(function_id(default, name))["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["ApplicationLogLevel"] == default.context["log_level"]
    group = default.props(ref_id(logging["LogGroup"]))
    assert group["RetentionInDays"] == default.context["log_retention_days"]
    assert group["LogGroupName"] == f"/aws/lambda/{default.context['stack_name']}-{name}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_environment_is_accepted_by_settings(default: Synth, name: str) -> None:
    env = _env(default, name)
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Comeback"
    assert env["POWERTOOLS_LOG_LEVEL"] == default.context["log_level"]
    # CloudFormation fills the references at deploy time; dummy values stand in for them here
    dummy = {k: re.sub(r"<[^>]+>", "https://resolved.example/at-deploy", flat(v)) for k, v in env.items()}
    settings = Settings.from_env(dummy)  # forbids unknown COMEBACK_ names
    comeback_names = {k for k in env if k.startswith("COMEBACK_")}
    assert comeback_names >= {
        "COMEBACK_TABLE_NAME",
        "COMEBACK_BUS_NAME",
        "COMEBACK_QUEUE_URLS",
        "COMEBACK_REGION",
        "COMEBACK_PUBLIC_BASE_URL",
        "COMEBACK_SES_CONFIGURATION_SET",
        "COMEBACK_SES_MAX_SEND_RATE",
        "COMEBACK_SENDER_CONCURRENCY",
        "COMEBACK_DUE_SHARDS",
        "COMEBACK_STAGE",
        "COMEBACK_SHOP_SECRET_PREFIX",
        "COMEBACK_TOKEN_KEY_SECRET",
        "COMEBACK_TASK_TOPIC_ARN",
    }
    assert settings.stage == default.context["stage"]
    assert settings.due_shards == default.context["due_shards"]
    assert settings.ses_max_send_rate == float(default.context["ses_max_send_rate"])
    expected = {"sweep": {"outbox", "sweep"}, "sender": {"outbox"}}
    assert set(settings.queue_urls) == expected.get(name, set())


def test_producers_get_the_outbox_url_and_the_stack_references(default: Synth) -> None:
    def queue(name: str) -> str:
        return next(
            k
            for k, r in default.of_type("AWS::SQS::Queue").items()
            if r["Properties"]["QueueName"] == f"comeback-{name}"
        )

    outbox, sweep = queue("outbox"), queue("sweep")
    assert flat(_env(default, "sender")["COMEBACK_QUEUE_URLS"]) == f'{{"outbox":"<{outbox}>"}}'
    # the sweep fans out to its own queue, and continues a shard there
    assert (
        flat(_env(default, "sweep")["COMEBACK_QUEUE_URLS"])
        == f'{{"outbox":"<{outbox}>","sweep":"<{sweep}>"}}'
    )
    env = _env(default, "ingest")
    table = next(iter(default.of_type("AWS::DynamoDB::Table")))
    assert ref_id(env["COMEBACK_TABLE_NAME"]) == table
    assert env["COMEBACK_REGION"] == {"Ref": "AWS::Region"}
    assert env["COMEBACK_PUBLIC_BASE_URL"]["Fn::GetAtt"][1] == "ApiEndpoint"


def test_public_base_url_is_the_custom_domain_when_given(variant: Synth) -> None:
    assert _env(variant, "sender")["COMEBACK_PUBLIC_BASE_URL"] == "https://api.shop.example.com"


def test_no_statement_allows_every_action(default: Synth, variant: Synth) -> None:
    for synth in (default, variant):
        for kind in ("AWS::IAM::Policy", "AWS::IAM::Role"):
            for logical_id, resource in synth.of_type(kind).items():
                documents = [resource["Properties"].get("PolicyDocument")] + [
                    p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])
                ]
                for document in filter(None, documents):
                    for statement in document["Statement"]:
                        for action in as_list(statement["Action"]):
                            assert action != "*" and not action.endswith(":*"), (logical_id, action)


def test_no_role_uses_a_managed_policy(default: Synth) -> None:
    for logical_id, role in default.of_type("AWS::IAM::Role").items():
        assert "ManagedPolicyArns" not in role["Properties"], logical_id


def test_only_ingest_reads_shop_secrets(default: Synth) -> None:
    readers = set()
    for logical_id in default.of_type("AWS::IAM::Role"):
        for statement in statements(default, logical_id):
            actions = as_list(statement["Action"])
            resources = [flat(r) for r in as_list(statement["Resource"])]
            if any(a.startswith(("ssm:", "secretsmanager:")) for a in actions) and any(
                ":parameter/comeback/shops/" in r or r == "*" for r in resources
            ):
                readers.add(logical_id)
    assert readers == {_role(default, "ingest")}


def test_ingest_may_read_shop_secrets_and_put_on_the_bus_only(default: Synth) -> None:
    allowed = _allowed(default, "ingest")
    actions = {a for a, _ in allowed}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "events:PutEvents",
        "ssm:GetParameter",
        "kms:Decrypt",
    }
    (bus,) = [k for k, r in default.of_type("AWS::Events::EventBus").items()]
    assert ("events:PutEvents", f"<{bus}>") in allowed
    (parameter_arn,) = [r for a, r in allowed if a == "ssm:GetParameter"]
    assert parameter_arn.endswith(":parameter/comeback/shops/*")
    (key,) = [
        k for k, r in default.of_type("AWS::KMS::Key").items() if "secrets" in r["Properties"]["Description"]
    ]
    assert ("kms:Decrypt", f"<{key}>") in allowed
    # the key decrypts for ingest only through Parameter Store and only a parameter of the path
    (decrypt,) = [
        st for st in statements(default, _role(default, "ingest")) if as_list(st["Action"]) == ["kms:Decrypt"]
    ]
    assert flat(decrypt["Condition"]["StringEquals"]["kms:ViaService"]).startswith("ssm.")
    assert flat(decrypt["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"]) == parameter_arn


def test_no_secrets_manager_secret_per_shop_or_for_the_token_key(default: Synth) -> None:
    # shop secrets and the token key are SSM SecureString parameters the operator CLI creates
    assert default.of_type("AWS::SecretsManager::Secret") == {}
    assert default.of_type("AWS::SSM::Parameter") == {}
    for logical_id in default.of_type("AWS::IAM::Role"):
        for statement in statements(default, logical_id):
            assert not any(a.startswith("secretsmanager:") for a in as_list(statement["Action"]))


TABLE_ACTIONS = {
    # Scan: a shop's erasure (shop/redact) pages through the table (comeback.privacy)
    "contacts": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchWriteItem", "Scan"},
    # GetItem/PutItem: the reward ledger; DeleteItem: a held message released; BatchGetItem: a
    # page's products at once (cross-sell)
    "sweep": {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"},
    "sender": {"GetItem", "PutItem", "UpdateItem", "Query"},
    "ses_events": {"GetItem", "PutItem", "UpdateItem", "Query"},
    "preferences": {"GetItem", "PutItem", "Query"},
    "ingest": set(),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_table_access_is_explicit_and_scoped_to_the_table(default: Synth, name: str) -> None:
    table = next(iter(default.of_type("AWS::DynamoDB::Table")))
    on_table = {
        a.removeprefix("dynamodb:")
        for a, r in _allowed(default, name)
        if a.startswith("dynamodb:") and r == f"<{table}>"
    }
    assert on_table == TABLE_ACTIONS[name]
    on_index = {(a, r) for a, r in _allowed(default, name) if a.startswith("dynamodb:") and r != f"<{table}>"}
    # the sweep queries the due index (due contacts) and the buyers index (the daily segmentation)
    indexes = {("dynamodb:Query", f"<{table}>/index/{i}") for i in ("due", "buyers")}
    assert on_index == (indexes if name == "sweep" else set())


def test_outbox_producers_may_send_to_the_outbox_only(default: Synth) -> None:
    def queue(name: str) -> str:
        return next(
            k
            for k, r in default.of_type("AWS::SQS::Queue").items()
            if r["Properties"]["QueueName"] == f"comeback-{name}"
        )

    expected = {
        # + the failure destination of its asynchronous invocations, which Lambda sends to with its role
        "sweep": {f"<{queue('outbox')}>", f"<{queue('sweep')}>", f"<{queue('sweep-invoke-dlq')}>"},
        "sender": {f"<{queue('outbox')}>"},
    }
    for name in FUNCTIONS:
        sends = {r for a, r in _allowed(default, name) if a == "sqs:SendMessage"}
        assert sends == expected.get(name, set()), name


def test_the_token_key_is_read_by_sender_and_preferences_only(default: Synth) -> None:
    for name in FUNCTIONS:
        reads = {r for a, r in _allowed(default, name) if a == "ssm:GetParameter"}
        token = {r for r in reads if r.endswith(":parameter/comeback/unsubscribe-key")}
        assert bool(token) == (name in ("sender", "preferences")), name
        if name in ("sender", "preferences"):
            assert reads == token, name


def test_only_the_sender_contacts_and_sweep_send_email_from_the_identity_with_the_configuration_set(
    variant: Synth,
) -> None:
    # contacts mails a customer's data export to the shop's team (comeback.privacy); the sweep a new
    # follow-up task (comeback.app.tasks)
    for name in FUNCTIONS:
        ses = [(a, r) for a, r in _allowed(variant, name) if a.startswith("ses:")]
        if name not in ("sender", "contacts", "sweep"):
            assert ses == [], name
            continue
        assert {a for a, _ in ses} == {"ses:SendEmail", "ses:SendRawEmail"}
        resources = {r for _, r in ses}
        assert any(r.endswith(":identity/mail.shop.example.com") for r in resources)
        assert any(r.endswith(":configuration-set/comeback") for r in resources)
        assert not any(r.endswith("*") for r in resources)


def test_only_the_sweep_publishes_to_the_encrypted_task_topic(default: Synth) -> None:
    (topic,) = [
        k
        for k, r in default.of_type("AWS::SNS::Topic").items()
        if flat(r["Properties"].get("TopicName", "")).endswith("-tasks")
    ]
    props = default.props(topic)
    assert flat(props["KmsMasterKeyId"]).endswith("alias/aws/sns")
    for name in FUNCTIONS:
        publishes = {r for a, r in _allowed(default, name) if a.startswith("sns:")}
        assert publishes == ({f"<{topic}>"} if name == "sweep" else set()), name
    assert "<" + topic + ">" in flat(_env(default, "sweep")["COMEBACK_TASK_TOPIC_ARN"])


def test_the_scheduler_role_may_invoke_the_sweep_only(default: Synth) -> None:
    schedules = list(default.of_type("AWS::Scheduler::Schedule").values())
    assert len(schedules) == 2  # the hourly sweep and the daily segmentation, both on the sweep function
    (role,) = {ref_id(s["Properties"]["Target"]["RoleArn"]) for s in schedules}
    trust = default.props(role)["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    invokes = [s for s in statements(default, role) if "lambda:InvokeFunction" in as_list(s["Action"])]
    assert [ref_id(r) for s in invokes for r in as_list(s["Resource"])] == [function_id(default, "sweep")]


def test_an_imported_identity_scopes_the_sender_to_it(imported: Synth) -> None:
    from tests.infra.helpers import IMPORTED_IDENTITY

    assert imported.of_type("AWS::SES::EmailIdentity") == {}
    ses = {r for a, r in _allowed(imported, "sender") if a == "ses:SendEmail"}
    assert IMPORTED_IDENTITY in ses
    assert not any(r.endswith("identity/*") for r in ses)


def test_without_an_identity_the_sender_may_use_any_identity_of_the_account_only(default: Synth) -> None:
    ses = {r for a, r in _allowed(default, "sender") if a == "ses:SendEmail"}
    (identity,) = [r for r in ses if ":identity/" in r]
    assert identity == "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*"
