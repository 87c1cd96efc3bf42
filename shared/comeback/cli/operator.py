"""`comeback shops create|list|rotate-secret|set-platform-secret|migrate-secrets`: the operator's tool.

Against AWS (the default) it reads the deployed stack's outputs (`describe_stacks`, with the
operator's own credentials and region) to learn the table, the secret prefix, the KMS key of the
secrets and the API's public URL. Against a local runtime (`--local http://127.0.0.1:8080`) it
asks `GET /_local/settings`. Either way the work is `comeback.shops.ShopAdmin`'s: the same code
the local runtime seeds its shops with. A new or rotated `whsec_` secret is printed once and
stored only in SSM Parameter Store (a SecureString under the stack's key); so is a platform's
webhook secret, which is never printed.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from comeback.app.settings import Settings
from comeback.app.topology import TOPOLOGY
from comeback.cli.errors import CliError


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


def platform_endpoint(settings: Settings, shop_id: str, platform: str) -> str:
    """Where a platform (Shopify, WooCommerce, Segment) delivers this shop's webhooks."""
    route = next(r for r in TOPOLOGY.routes if r.function == "ingest" and r.path.endswith(f"/{platform}"))
    return settings.public_base_url.rstrip("/") + route.path.replace("{shop_id}", shop_id)


def _platform_secret_input(args: Any, stdin: TextIO) -> str:
    """The secret from `--secret`, else the first line of standard input (kept off the shell history)."""
    if args.secret is not None:
        return str(args.secret).strip()
    if stdin.isatty():
        sys.stderr.write(f"{args.platform} secret for shop {args.shop_id}: ")
        sys.stderr.flush()
    return stdin.readline().strip()


def set_platform_secret(args: Any, out: TextIO, stdin: TextIO) -> int:
    """`comeback shops set-platform-secret SHOP PLATFORM`; errors raise (one line, status 2)."""
    from comeback.aws.shops import ShopAdmin
    from comeback.platforms import PLATFORMS

    if args.platform not in PLATFORMS:
        raise CliError(f"unknown platform {args.platform!r}; expected one of {', '.join(PLATFORMS)}")
    secret = _platform_secret_input(args, stdin)
    if not secret:
        raise CliError("no secret given: use --secret SECRET or pass it on standard input")
    target = local_target(args.local) if getattr(args, "local", None) else aws_target(args.stack)
    ShopAdmin(target.settings, target.kms_key_id).set_platform_secret(args.shop_id, args.platform, secret)
    where = args.local or f"stack {args.stack} ({target.settings.region})"
    # the secret itself is never echoed: it is the platform's, and the shop owner already has it
    out.write(f"{args.platform} secret of shop {args.shop_id} set in {where}\n")
    out.write(f"webhook URL: {platform_endpoint(target.settings, args.shop_id, args.platform)}\n")
    return 0


def migrate_secrets(args: Any, out: TextIO) -> int:
    """`comeback shops migrate-secrets [--apply] [--overwrite-token-key]`: Secrets Manager to SSM.

    Reads only the outputs every version of the stack has, so it runs before or after the
    upgrade is deployed (comeback.cli.secret_migration says what it copies and what it keeps)."""
    import boto3

    from comeback.cli.secret_migration import Names, Outcome, SecretMigration

    if getattr(args, "local", None):
        raise CliError("the local runtime keeps no Secrets Manager secrets: nothing to migrate")
    outputs = stack_outputs(args.stack)
    needed = (Output.SHOP_SECRET_PREFIX, Output.TOKEN_KEY_SECRET, Output.SECRETS_KEY_ARN, Output.REGION)
    missing = [o.value for o in needed if o.value not in outputs]
    if missing:
        raise CliError(f"stack {args.stack!r} lacks the outputs {missing}")
    session = boto3.session.Session(region_name=outputs[Output.REGION])
    names = Names.of(outputs[Output.SHOP_SECRET_PREFIX], outputs[Output.TOKEN_KEY_SECRET])
    copies = SecretMigration(
        session.client("secretsmanager"), session.client("ssm"), outputs[Output.SECRETS_KEY_ARN]
    ).run(names, apply=args.apply, overwrite_token_key=args.overwrite_token_key)
    if not copies:
        out.write(f"no Secrets Manager secret under {names.source_prefix} nor {names.source_token_key}\n")
    for copy in copies:
        out.write(f"{copy.outcome.value:<28} {copy.source} -> {copy.target}\n")
    outcomes = [c.outcome for c in copies]
    if Outcome.WOULD_COPY in outcomes or Outcome.WOULD_OVERWRITE in outcomes:
        out.write("Nothing written (a dry run): run again with --apply.\n")
    if any(c.outcome is Outcome.KEPT and c.source == names.source_token_key for c in copies):
        out.write(
            "The token key differs: links mailed before the upgrade were signed with the Secrets "
            "Manager key, links since with the parameter. --overwrite-token-key makes the old links "
            "work again and the new ones stop.\n"
        )
    if copies and args.apply:
        out.write(
            "The Secrets Manager secrets are kept: delete them once the stack runs on the parameters "
            "(aws secretsmanager delete-secret --secret-id NAME).\n"
        )
    return 0


def shops_command(args: Any, out: TextIO | None = None) -> int:
    """Run `comeback shops ...` (args from comeback.cli); 0 on success (errors raise)."""
    out = out or sys.stdout
    if args.shops_command == "set-platform-secret":
        return set_platform_secret(args, out, sys.stdin)
    if args.shops_command == "migrate-secrets":
        return migrate_secrets(args, out)
    from botocore.exceptions import ClientError

    from comeback.aws.shops import ShopAdmin, ShopConfig

    # errors (no credentials, an unreachable runtime, a bad playbook ...) become one line and
    # status 2 in comeback.cli_errors
    target = local_target(args.local) if getattr(args, "local", None) else aws_target(args.stack)
    admin = ShopAdmin(target.settings, target.kms_key_id)
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
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterAlreadyExists":
                raise
            raise CliError(f"shop {args.shop_id!r} already exists in {where}") from None
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
    if command == "set-playbook":
        config = admin.get(args.shop_id)
        if config is None:
            raise CliError(f"no shop {args.shop_id!r} in {where}")
        document = Path(args.playbook).read_text(encoding="utf-8")
        # a new model, not a copy: the copy would keep the old playbook, parsed and cached
        admin.save_config(ShopConfig.model_validate({**config.model_dump(), "playbook_yaml": document}))
        out.write(f"playbook of {args.shop_id} replaced; functions read it within their cache time\n")
        out.write(f"tiers changed? `comeback loyalty recompute {args.shop_id}` reports who moves\n")
        return 0
    if command == "rotate-secret":
        secret = admin.rotate_secret(args.shop_id, drop_previous=args.drop_previous)
        out.write(f"new signing secret of {args.shop_id}: {secret}\n")
        if args.drop_previous:
            out.write("The previous secret no longer verifies.\n")
        else:
            out.write("The previous secret stays valid until the next rotation (or --drop-previous).\n")
        return 0
    raise CliError(f"unknown command {command!r}")


def local_now(base_url: str) -> datetime:
    """The local runtime's simulated now (GET /_local/clock)."""
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/_local/clock", timeout=10) as answer:  # noqa: S310
        return datetime.fromisoformat(json.loads(answer.read())["now"].replace("Z", "+00:00"))


def _show_contact(args: Any, settings: Settings, name: str, handle: str, out: TextIO, err: TextIO) -> int:
    """The contact view: the profile, its stage, loyalty, rewards, each recipe's next due time.

    `--format table` (the default) for a person (cli.contact_table), `--format json` for scripts."""
    from comeback.aws import clients as aws
    from comeback.aws.contact_store import ContactStore
    from comeback.aws.reward_store import DynamoRewardStore
    from comeback.aws.shops import ShopDirectory
    from comeback.domain.views import contact_view

    ddb = aws.client("dynamodb", settings)
    profile = ContactStore(ddb, settings.table_name, settings.due_shards).find(args.shop_id, handle)
    if profile is None:
        err.write(f"{name}: no contact {handle!r} in shop {args.shop_id!r}\n")
        return 2
    # the local runtime's time is simulated: stages are judged on its clock
    now = local_now(args.local) if args.local else datetime.now(UTC)
    rewards = DynamoRewardStore(ddb, settings.table_name).for_contact(args.shop_id, profile.contact_id)
    view = contact_view(profile, ShopDirectory(settings).playbook(args.shop_id), now, rewards)
    if getattr(args, "format", "table") == "json":  # for scripts: the view itself
        out.write(json.dumps(view, indent=2, ensure_ascii=False, default=str) + "\n")
        return 0
    from comeback.cli.contact_table import render_contact

    out.write(render_contact(view))
    return 0


def contacts_command(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run `comeback contacts show|export|erase SHOP CUSTOMER`; 0 on success, 2 on an error (one line)."""
    import uuid

    from botocore.exceptions import BotoCoreError, ClientError
    from pydantic import ValidationError

    from comeback.app import privacy
    from comeback.aws import clients as aws
    from comeback.aws.bus import EventBridgePublisher, PublishError
    from comeback.aws.contact_store import ContactStore
    from comeback.domain.events import CustomerRef

    out, err = out or sys.stdout, err or sys.stderr
    name = f"comeback contacts {args.contacts_command}"
    try:
        handle = args.customer.strip()
        customer = CustomerRef.model_validate({"email": handle} if "@" in handle else {"id": handle})
    except ValidationError:
        err.write(f"{name}: {args.customer!r} is neither a customer id nor an email address\n")
        return 2
    try:
        target = local_target(args.local) if args.local else aws_target(args.stack)
        settings = target.settings
        now = datetime.now(UTC)
        if args.contacts_command == "show":
            return _show_contact(args, settings, name, handle, out, err)
        if args.contacts_command == "export":
            ddb = aws.client("dynamodb", settings)
            contacts = ContactStore(ddb, settings.table_name, settings.due_shards)
            store = privacy.PrivacyStore(ddb, settings.table_name)
            document = privacy.export_document(contacts, store, args.shop_id, customer, now)
            if not document["found"]:
                err.write(f"{name}: no contact {handle!r} in shop {args.shop_id!r}\n")
                return 2
            out.write(privacy.to_json(document) + "\n")
            return 0
        event_id = f"operator:erase:{uuid.uuid4()}"
        entry = privacy.erasure_entry(args.shop_id, customer, now, event_id)
        EventBridgePublisher(aws.client("events", settings), settings.bus_name).publish([entry])
    except (LookupError, OSError, BotoCoreError, ClientError, PublishError) as exc:
        err.write(f"{name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}\n")
        return 2
    out.write(f"erasure of {handle} in shop {args.shop_id} requested (event {event_id})\n")
    return 0
