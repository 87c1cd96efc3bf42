"""`comeback shops create|list|rotate-secret`: the operator's tool, for AWS and the local runtime.

Against AWS (the default) it reads the deployed stack's outputs (`describe_stacks`, with the
operator's own credentials and region) to learn the table, the secret prefix, the KMS key of the
secrets and the API's public URL. Against a local runtime (`--local http://127.0.0.1:8080`) it
asks `GET /_local/settings`. Either way the work is `comeback.shops.ShopAdmin`'s: the same code
the local runtime seeds its shops with. A new or rotated `whsec_` secret is printed once and
stored only in Secrets Manager.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from comeback.settings import Settings
from comeback.topology import TOPOLOGY


class Output(StrEnum):
    """The CloudFormation outputs of the stack that this tool reads (infra/stack.py declares them)."""

    TABLE_NAME = "TableName"
    SHOP_SECRET_PREFIX = "ShopSecretPrefix"
    SECRETS_KEY_ARN = "SecretsKeyArn"
    PUBLIC_BASE_URL = "PublicBaseUrl"
    REGION = "Region"
    BUS_NAME = "BusName"
    TOKEN_KEY_SECRET = "TokenKeySecret"
    SES_CONFIGURATION_SET = "SesConfigurationSet"
    STAGE = "Stage"


class Target:
    """Where the shops live: settings for ShopAdmin, and the KMS key new secrets are encrypted with."""

    def __init__(self, settings: Settings, kms_key_id: str | None = None) -> None:
        self.settings = settings
        self.kms_key_id = kms_key_id


def stack_outputs(stack: str, region: str | None = None) -> dict[str, str]:
    """The outputs of a deployed CloudFormation stack, by key."""
    import boto3

    client = boto3.session.Session(region_name=region).client("cloudformation")
    found = client.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def aws_target(stack: str, outputs: dict[str, str] | None = None) -> Target:
    outputs = stack_outputs(stack) if outputs is None else outputs
    missing = [o.value for o in Output if o.value not in outputs]
    if missing:
        raise LookupError(f"stack {stack!r} lacks the outputs {missing}: deploy the current version first")
    settings = Settings(
        table_name=outputs[Output.TABLE_NAME],
        bus_name=outputs[Output.BUS_NAME],
        region=outputs[Output.REGION],
        shop_secret_prefix=outputs[Output.SHOP_SECRET_PREFIX],
        token_key_secret=outputs[Output.TOKEN_KEY_SECRET],
        public_base_url=outputs[Output.PUBLIC_BASE_URL].rstrip("/"),
        ses_configuration_set=outputs[Output.SES_CONFIGURATION_SET],
        stage=outputs[Output.STAGE],
    )
    return Target(settings, kms_key_id=outputs[Output.SECRETS_KEY_ARN])


def local_target(base_url: str) -> Target:
    url = f"{base_url.rstrip('/')}/_local/settings"
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - the operator's own URL
        document: dict[str, Any] = json.load(answer)
    return Target(Settings.model_validate(document))


def events_endpoint(settings: Settings, shop_id: str) -> str:
    """Where the shop posts its signed events (the topology's ingest route)."""
    route = next(r for r in TOPOLOGY.routes if r.function == "ingest" and r.method == "POST")
    return settings.public_base_url.rstrip("/") + route.path.replace("{shop_id}", shop_id)


def shops_command(args: Any, out: TextIO | None = None) -> int:
    """Run `comeback shops ...` (args from comeback.cli); 0 on success, 1 on a refusal."""
    out = out or sys.stdout
    from botocore.exceptions import BotoCoreError, ClientError

    from comeback.shops import ShopAdmin

    try:
        target = local_target(args.local) if getattr(args, "local", None) else aws_target(args.stack)
    except (LookupError, OSError, BotoCoreError, ClientError) as exc:
        out.write(f"error: {exc}\n")
        return 1
    admin = ShopAdmin(target.settings)
    where = args.local or f"stack {args.stack} ({target.settings.region})"
    command = args.shops_command
    if command == "create":
        playbook_yaml = Path(args.playbook).read_text(encoding="utf-8") if args.playbook else ""
        try:
            secret = admin.create(
                args.shop_id,
                args.name,
                datetime.now(UTC),
                playbook_yaml=playbook_yaml,
                kms_key_id=target.kms_key_id,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceExistsException":
                raise
            out.write(f"error: shop {args.shop_id!r} already exists in {where}\n")
            return 1
        out.write(f"shop {args.shop_id} created in {where}\n")
        out.write(f"events endpoint: {events_endpoint(target.settings, args.shop_id)}\n")
        out.write(f"signing secret:  {secret}\n")
        out.write("The secret is shown once: store it in the shop's settings now.\n")
        return 0
    if command == "list":
        shops = admin.list()
        if not shops:
            out.write(f"no shops in {where}\n")
        for shop in shops:
            out.write(f"{shop.shop_id}\t{shop.status}\t{shop.created_at}\t{shop.name}\n")
        return 0
    if command == "rotate-secret":
        try:
            secret = admin.rotate_secret(args.shop_id, drop_previous=args.drop_previous)
        except LookupError as exc:
            out.write(f"error: {exc}\n")
            return 1
        out.write(f"new signing secret of {args.shop_id}: {secret}\n")
        if args.drop_previous:
            out.write("The previous secret no longer verifies.\n")
        else:
            out.write("The previous secret stays valid until the next rotation (or --drop-previous).\n")
        return 0
    out.write(f"error: unknown command {command!r}\n")
    return 2
