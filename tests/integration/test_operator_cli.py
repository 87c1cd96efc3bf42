"""`comeback shops create|list|rotate-secret` against a deployed stack (moto) and a local runtime."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from comeback.app.signing import signed_headers
from comeback.aws import clients as aws
from comeback.aws import keys
from comeback.cli.main import main
from comeback.cli.operator import Output

REGION = "us-east-1"
STACK = "comeback"
API = "https://abc123.execute-api.us-east-1.amazonaws.com"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def _secret(text: str) -> str:
    found = SECRET.findall(text)
    assert len(found) == 1, text
    return found[0]


@pytest.fixture
def deployed() -> Iterator[dict[str, Any]]:
    """moto standing in for an account where the stack is deployed: its table, key and outputs."""
    with mock_aws():
        aws.reset()
        boto3.client("dynamodb", region_name=REGION).create_table(**keys.table_definition("comeback-table"))
        key_arn = boto3.client("kms", region_name=REGION).create_key(Description="secrets")["KeyMetadata"][
            "Arn"
        ]
        outputs = {
            Output.TABLE_NAME: "comeback-table",
            Output.BUS_NAME: "comeback",
            Output.REGION: REGION,
            Output.SHOP_SECRET_PREFIX: "/comeback/shops/",
            Output.SECRETS_KEY_ARN: key_arn,
            Output.PUBLIC_BASE_URL: API,
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
        yield {"key_arn": key_arn, "ssm": boto3.client("ssm", region_name=REGION)}
        aws.reset()


def _document(ssm: Any, shop_id: str) -> dict[str, Any]:
    answer = ssm.get_parameter(Name=f"/comeback/shops/{shop_id}", WithDecryption=True)
    return json.loads(answer["Parameter"]["Value"])


def _key_of(ssm: Any, name: str) -> str:
    """The KMS key a SecureString parameter is encrypted with (moto: the value it keeps encrypted
    is `kms:<key>:<plaintext>`)."""
    (found,) = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    assert found["Type"] == "SecureString"
    return str(found["KeyId"])


def test_create_prints_the_endpoint_and_the_secret_once_and_encrypts_it_with_the_stack_key(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    assert main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme Tea"]) == 0
    out = capsys.readouterr().out
    assert f"{API}/v1/shops/acme/events" in out
    secret = _secret(out)
    ssm = deployed["ssm"]
    assert _document(ssm, "acme")["secrets"] == [secret]
    assert _key_of(ssm, "/comeback/shops/acme") == deployed["key_arn"]
    # the first shop also made the token key, under the same key and outside the shops' path
    assert _key_of(ssm, "/comeback/unsubscribe-key") == deployed["key_arn"]

    assert main(["shops", "--stack", STACK, "list"]) == 0
    listed = capsys.readouterr().out
    assert re.search(r"^acme\tactive\t.+\tAcme Tea$", listed, re.MULTILINE)
    assert "whsec_" not in listed  # secrets are shown once, at creation and rotation only


def test_rotation_keeps_the_previous_secret_unless_told_to_drop_it(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme"])
    first = _secret(capsys.readouterr().out)

    assert main(["shops", "--stack", STACK, "rotate-secret", "acme"]) == 0
    out = capsys.readouterr().out
    second = _secret(out)
    assert "stays valid" in out
    assert _document(deployed["ssm"], "acme")["secrets"] == [second, first]

    assert main(["shops", "--stack", STACK, "rotate-secret", "acme", "--drop-previous"]) == 0
    third = _secret(capsys.readouterr().out)
    assert _document(deployed["ssm"], "acme")["secrets"] == [third]


def test_refusals_exit_non_zero_with_a_message(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme"])
    capsys.readouterr()
    # DESIGN.md §4.5: errors are one clear line (on stderr) and exit status 2
    assert main(["shops", "--stack", STACK, "create", "acme", "--name", "Again"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["shops", "--stack", STACK, "rotate-secret", "nobody"]) == 2
    assert "no shop 'nobody'" in capsys.readouterr().err
    assert main(["shops", "--stack", "not-deployed", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("comeback: error: ") and len(err.strip().splitlines()) == 1


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


def _post_events(url: str, secret: str) -> int:
    body = json.dumps(
        {
            "events": [
                {
                    "id": "e-1",
                    "type": "site.visited",
                    "occurred_at": "2026-01-05T10:00:00+09:00",
                    "customer": {"id": "c-1"},
                    "data": {},
                }
            ]
        }
    ).encode()
    headers = {
        **signed_headers(secret, body, f"msg_{time.monotonic_ns()}", int(time.time())),
        "content-type": "application/json",
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # our own local runtime
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _eventually(url: str, secret: str, status: int, within: float) -> int:
    """The answer once the runtime's secret cache has caught up (it keeps secrets `within` seconds)."""
    deadline = time.monotonic() + within + 5
    answer = _post_events(url, secret)
    while answer != status and time.monotonic() < deadline:
        time.sleep(0.25)
        answer = _post_events(url, secret)
    return answer


def test_the_same_commands_work_against_the_local_runtime(
    local_runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with urllib.request.urlopen(f"{local_runtime}/_local/settings", timeout=10) as answer:
        cache_seconds = float(json.load(answer)["secret_cache_seconds"])
    assert main(["shops", "--local", local_runtime, "create", "acme", "--name", "Acme"]) == 0
    out = capsys.readouterr().out
    endpoint = f"{local_runtime}/v1/shops/acme/events"
    assert endpoint in out
    secret = _secret(out)
    # the printed secret signs for the printed endpoint
    assert _eventually(endpoint, secret, 202, cache_seconds) == 202

    assert main(["shops", "--local", local_runtime, "list"]) == 0
    listed = capsys.readouterr().out
    assert {line.split("\t")[0] for line in listed.splitlines()} >= {"acme", "demo"}

    assert main(["shops", "--local", local_runtime, "rotate-secret", "acme", "--drop-previous"]) == 0
    rotated = _secret(capsys.readouterr().out)
    assert _eventually(endpoint, rotated, 202, cache_seconds) == 202
    assert _post_events(endpoint, secret) == 401  # dropped


# --- set-platform-secret (issue 7 §1) ----------------------------------------------------------


def test_set_platform_secret_stores_it_for_the_platform_and_prints_the_webhook_url_not_the_secret(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme"])
    signing = _secret(capsys.readouterr().out)

    command = ["shops", "--stack", STACK, "set-platform-secret", "acme"]
    assert main([*command, "shopify", "--secret", "shpss_from_the_flag"]) == 0
    out = capsys.readouterr().out
    assert f"{API}/v1/shops/acme/webhooks/shopify" in out
    assert "shpss_from_the_flag" not in out

    monkeypatch.setattr("sys.stdin", io.StringIO("wc secret from stdin\n"))
    assert main([*command, "woocommerce"]) == 0
    assert f"{API}/v1/shops/acme/webhooks/woocommerce" in capsys.readouterr().out

    document = _document(deployed["ssm"], "acme")
    assert document["platforms"] == {"shopify": "shpss_from_the_flag", "woocommerce": "wc secret from stdin"}
    assert document["secrets"] == [signing]  # the shop's own signing secret is untouched

    assert main([*command, "shopify", "--secret", "shpss_rotated"]) == 0  # a new one replaces it
    assert _document(deployed["ssm"], "acme")["platforms"]["shopify"] == "shpss_rotated"


@pytest.mark.parametrize(
    ("arguments", "stdin", "message"),
    [
        (["acme", "magento", "--secret", "x"], "", "unknown platform 'magento'"),
        (["nobody", "shopify", "--secret", "x"], "", "no shop"),
        (["acme", "segment"], "", "no secret given"),
        (["acme", "segment", "--secret", "   "], "", "no secret given"),
    ],
)
def test_set_platform_secret_errors_are_one_line_on_stderr_and_status_2(
    deployed: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    stdin: str,
    message: str,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme"])
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["shops", "--stack", STACK, "set-platform-secret", *arguments]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err and captured.out == ""
    assert "platforms" not in _document(deployed["ssm"], "acme")


def _post_shopify(url: str, secret: str) -> int:
    body = json.dumps(
        {
            "id": 820982911946154508,
            "email": "jon@example.com",
            "created_at": "2026-01-04T10:00:00-05:00",
            "currency": "USD",
            "total_price": "10.00",
            "customer": {"id": 115310627314723954, "email": "jon@example.com"},
        }
    ).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Webhook-Id": f"cli-{time.monotonic_ns()}",
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # our own local runtime
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_set_platform_secret_against_the_local_runtime_makes_its_webhooks_verify(
    local_runtime: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with urllib.request.urlopen(f"{local_runtime}/_local/settings", timeout=10) as answer:
        cache_seconds = float(json.load(answer)["secret_cache_seconds"])
    url = f"{local_runtime}/v1/shops/demo/webhooks/shopify"
    assert _post_shopify(url, "shpss_local") == 401  # no Shopify secret set yet

    command = ["shops", "--local", local_runtime, "set-platform-secret", "demo", "shopify"]
    assert main([*command, "--secret", "shpss_local"]) == 0
    assert url in capsys.readouterr().out
    deadline = time.monotonic() + cache_seconds + 5
    status = _post_shopify(url, "shpss_local")
    while status != 202 and time.monotonic() < deadline:  # the runtime caches secrets briefly
        time.sleep(0.25)
        status = _post_shopify(url, "shpss_local")
    assert status == 202
    assert _post_shopify(url, "shpss_someone_else") == 401


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("demo:magento:secret", "PLATFORM one of shopify, woocommerce, segment"),
        ("demo:shopify:", "SHOP:PLATFORM:SECRET"),
        ("nobody:shopify:secret", "shop 'nobody' is not one of the shops served"),
    ],
)
def test_local_serve_refuses_a_bad_platform_secret_flag_in_one_line_with_status_2(
    flag: str, message: str
) -> None:
    import subprocess
    import sys

    # our own CLI: it must refuse before starting anything
    done = subprocess.run(
        [sys.executable, "-m", "comeback.cli", "local", "serve", "--port", "0", "--platform-secret", flag],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "listening" not in done.stdout


def test_migrate_secrets_copies_an_older_stacks_secrets_manager_secrets_once_and_keeps_newer_ones(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack deployed before issue 12 kept its shops in Secrets Manager (`comeback/shops/<id>`,
    `comeback/unsubscribe-key`): the command copies them to the parameters the functions read."""
    from comeback.app.settings import Settings
    from comeback.aws.shops import ShopDirectory
    from comeback.messaging.tokens import key_source

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    sm = boto3.client("secretsmanager", region_name=REGION)
    ssm = deployed["ssm"]
    acme = {"secrets": ["whsec_b2xkLWFjbWU="], "status": "active", "platforms": {"shopify": "shpss_x"}}
    sm.create_secret(Name="comeback/shops/acme", SecretString=json.dumps(acme))
    sm.create_secret(Name="comeback/shops/beta", SecretString=json.dumps({"secrets": ["whsec_b2xk"]}))
    sm.create_secret(Name="comeback/shops/junk", SecretString="not json")
    sm.create_secret(Name="comeback/shopsfront/x", SecretString=json.dumps({"secrets": ["s"]}))
    sm.create_secret(Name="comeback/unsubscribe-key", SecretString="old-token-key-64-chars")
    # beta was rotated after the upgrade: its parameter is the newer document
    rotated = json.dumps({"secrets": ["whsec_bmV3"], "status": "active"})
    ssm.put_parameter(Name="/comeback/shops/beta", Value=rotated, Type="SecureString")

    assert main(["shops", "--stack", STACK, "migrate-secrets"]) == 0
    dry = capsys.readouterr().out
    assert "would copy" in dry and "--apply" in dry
    assert "whsec_" not in dry and "old-token-key" not in dry  # names and outcomes only
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name="/comeback/shops/acme")

    assert main(["shops", "--stack", STACK, "migrate-secrets", "--apply"]) == 0
    out = capsys.readouterr().out
    lines = {line.split(" -> ")[0].rsplit(None, 1)[1]: line for line in out.splitlines() if " -> " in line}
    assert set(lines) == {
        "comeback/shops/acme", "comeback/shops/beta", "comeback/shops/junk", "comeback/unsubscribe-key"
    }  # fmt: skip
    assert lines["comeback/shops/acme"].startswith("copied")
    assert lines["comeback/shops/beta"].startswith("differs: kept")
    assert lines["comeback/shops/junk"].startswith("not a shop document")
    assert _document(ssm, "acme") == acme
    assert _document(ssm, "beta") == json.loads(rotated)
    assert _key_of(ssm, "/comeback/shops/acme") == deployed["key_arn"]
    assert _key_of(ssm, "/comeback/unsubscribe-key") == deployed["key_arn"]

    # what the functions read: ingest's shop directory and the token key of the links already mailed
    settings = Settings(
        region=REGION,
        table_name="comeback-table",
        shop_secret_prefix="/comeback/shops/",
        token_key_secret="/comeback/unsubscribe-key",
    )
    assert ShopDirectory(settings).signing_secrets("acme") == acme["secrets"]
    assert ShopDirectory(settings).platform_secret("acme", "shopify") == "shpss_x"
    assert key_source(settings)() == b"old-token-key-64-chars"

    # twice changes nothing
    assert main(["shops", "--stack", STACK, "migrate-secrets", "--apply"]) == 0
    again = capsys.readouterr().out
    assert "copied" not in again and again.count("already there") == 2


def test_migrate_secrets_keeps_a_newer_token_key_unless_told_to_overwrite_it(
    deployed: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="comeback/unsubscribe-key", SecretString="the-old-key"
    )
    main(["shops", "--stack", STACK, "create", "acme", "--name", "Acme"])  # made a new token key
    capsys.readouterr()
    ssm = deployed["ssm"]
    made = ssm.get_parameter(Name="/comeback/unsubscribe-key", WithDecryption=True)["Parameter"]["Value"]

    assert main(["shops", "--stack", STACK, "migrate-secrets", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "differs: kept" in out and "--overwrite-token-key" in out
    assert (
        ssm.get_parameter(Name="/comeback/unsubscribe-key", WithDecryption=True)["Parameter"]["Value"] == made
    )

    assert main(["shops", "--stack", STACK, "migrate-secrets", "--apply", "--overwrite-token-key"]) == 0
    assert "differs: overwritten" in capsys.readouterr().out
    value = ssm.get_parameter(Name="/comeback/unsubscribe-key", WithDecryption=True)["Parameter"]["Value"]
    assert value == "the-old-key"


def test_migrate_secrets_refuses_the_local_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shops", "--local", "http://127.0.0.1:1", "migrate-secrets"]) == 2
    assert "no Secrets Manager" in capsys.readouterr().err
