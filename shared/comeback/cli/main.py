"""The `comeback` command line."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from comeback.local.server import ShopSeed


def _quiet_powertools(log_level: str | None) -> None:
    from comeback.local import offline_environment

    if log_level:  # asked for on the command line: it wins over the environment
        os.environ["POWERTOOLS_LOG_LEVEL"] = log_level
    offline_environment("comeback-local")


def _serve(args: argparse.Namespace) -> int:
    _quiet_powertools(args.log_level)
    from comeback.domain.clock import parse_iso
    from comeback.local.server import DEFAULT_SHOP, LocalRuntime, ShopSeed

    playbooks = {}
    for spec in args.playbook or []:
        shop_id, _, path = spec.partition("=")
        playbooks[shop_id] = Path(path).read_text(encoding="utf-8")
    seeds = []
    for spec in args.shop or [":".join(DEFAULT_SHOP)]:
        shop_id, sep, secret = spec.partition(":")
        if not sep or not secret.startswith("whsec_"):
            print(f"--shop wants ID:whsec_..., got {spec!r}", file=sys.stderr)
            return 2
        seeds.append(ShopSeed(shop_id, secret, name=shop_id, playbook_yaml=playbooks.get(shop_id, "")))
    try:
        seeds = _with_platform_secrets(seeds, args.platform_secret or [])
    except ValueError as exc:
        print(f"--platform-secret: {exc}", file=sys.stderr)
        return 2
    local = LocalRuntime(
        port=args.port,
        shops=seeds,
        start=parse_iso(args.start) if args.start else None,
        host=args.host,
        schedules=not args.no_schedules,
        data=Path(args.data) if args.data else None,
    )
    from comeback.local import persistence

    try:
        base = local.start()
    except persistence.DataDirError as exc:
        print(f"comeback local serve: {exc}", file=sys.stderr)
        return 2
    with urllib.request.urlopen(f"{base}/_local/health", timeout=10) as answer:  # noqa: S310 - our own URL
        answer.read()
    print(persistence.describe(local.data, local.restored), flush=True)
    print(f"comeback local runtime listening on {base}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    local.stop()
    return 0


def _with_platform_secrets(seeds: list[ShopSeed], specs: list[str]) -> list[ShopSeed]:
    """The seeds with each SHOP:PLATFORM:SECRET attached to its shop (ValueError names a bad one)."""
    from comeback.platforms import PLATFORMS

    secrets: dict[str, dict[str, str]] = {}
    for spec in specs:
        shop_id, _, rest = spec.partition(":")
        platform, _, secret = rest.partition(":")  # the secret itself may contain ':'
        if not shop_id or platform not in PLATFORMS or not secret.strip():
            raise ValueError(
                f"wants SHOP:PLATFORM:SECRET with PLATFORM one of {', '.join(PLATFORMS)}, got {spec!r}"
            )
        if shop_id not in {seed.shop_id for seed in seeds}:
            raise ValueError(f"shop {shop_id!r} is not one of the shops served (see --shop)")
        secrets.setdefault(shop_id, {})[platform] = secret.strip()
    return [
        dataclasses.replace(seed, platform_secrets={**seed.platform_secrets, **secrets.get(seed.shop_id, {})})
        for seed in seeds
    ]


def _demo(args: argparse.Namespace) -> int:
    from comeback.demo.run import run_demo

    report = None if args.no_report else Path(args.report)
    return run_demo(seed=args.seed, customers=args.customers, days=args.days, port=args.port, report=report)


def _schemas(args: argparse.Namespace) -> int:
    from comeback.cli.schemas import write_all

    for path in write_all(Path(args.out)):
        print(f"wrote {path}")
    return 0


def _shops(args: argparse.Namespace) -> int:
    from comeback.cli.operator import shops_command

    return shops_command(args)


def _contacts(args: argparse.Namespace) -> int:
    from comeback.cli.operator import contacts_command

    return contacts_command(args)


def _templates(args: argparse.Namespace) -> int:
    from comeback.cli.previews import available, preview
    from comeback.messaging.render import LOCALES, RenderError

    if args.templates_command == "list":
        shipped = available()
        width = max(len("campaign"), *(len(campaign) for campaign in shipped))
        print("  ".join(["campaign".ljust(width), *(f"{locale:<3}" for locale in LOCALES)]).rstrip())
        for campaign, locales in shipped.items():
            marks = ("yes" if locale in locales else "-".ljust(3) for locale in LOCALES)
            print("  ".join([campaign.ljust(width), *marks]).rstrip())
        return 0
    try:
        output = preview(args.campaign, args.locale, "html" if args.html else "text", step=args.step)
    except ValueError as exc:
        print(f"comeback templates preview: {exc}", file=sys.stderr)
        return 2
    except RenderError as exc:
        print(f"comeback templates preview: the template does not render: {exc}", file=sys.stderr)
        return 2
    print(output, end="" if output.endswith("\n") else "\n")
    return 0


def _add_set_platform_secret(shop_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    platform = shop_commands.add_parser(
        "set-platform-secret",
        help="the secret Shopify, WooCommerce or Segment signs this shop's webhooks with",
    )
    platform.add_argument("shop_id", metavar="SHOP")
    platform.add_argument("platform", metavar="PLATFORM", help="shopify, woocommerce or segment")
    platform.add_argument("--secret", help="the secret (default: read from standard input)")
    set_playbook = shop_commands.add_parser(
        "set-playbook", help="replace a shop's playbook (validated first)"
    )
    set_playbook.add_argument("shop_id", metavar="SHOP")
    set_playbook.add_argument(
        "playbook", metavar="FILE", help="the playbook YAML (what it leaves out: defaults)"
    )


def _add_contacts(commands: Any) -> None:
    contacts = commands.add_parser("contacts", help="show, export or erase one customer (AWS or local)")
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    target.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")
    contact_commands = contacts.add_subparsers(dest="contacts_command", required=True)
    for name, what in (
        ("show", "print the contact view: stage, orders, points and tier, rewards, each recipe's due time"),
        ("export", "print every item held about the customer, as JSON"),
        ("erase", "request the customer's erasure (a customer.deleted, as a shop would send)"),
    ):
        command = contact_commands.add_parser(name, help=what, parents=[target])
        command.add_argument("shop_id", metavar="SHOP")
        command.add_argument("customer", metavar="CUSTOMER", help="the shop's customer id, or an email")
        if name == "show":
            command.add_argument(
                "--format",
                choices=["table", "json"],
                default="table",
                help="table: for a person to read (default); json: the whole view, for scripts",
            )
    contacts.set_defaults(run=_contacts)


def _add_templates(commands: Any) -> None:
    templates = commands.add_parser("templates", help="list and preview the shipped message templates")
    template_commands = templates.add_subparsers(dest="templates_command", required=True)
    template_commands.add_parser("list", help="campaigns and the locales that have templates for them")
    show = template_commands.add_parser("preview", help="render a campaign with sample data")
    show.add_argument("campaign", metavar="CAMPAIGN")
    show.add_argument("--locale", default="ja", help="ja or en (default: ja)")
    show.add_argument("--html", action="store_true", help="the HTML part instead of the subject and text")
    show.add_argument("--step", type=int, default=1, help="the campaign step (win-back has 1 to 4)")
    templates.set_defaults(run=_templates)


def _add_reports_rewards_and_loyalty(commands: Any) -> None:
    from comeback.cli import loyalty, report, rewards, tasks

    report.add_parser(commands)
    rewards.add_parser(commands)
    loyalty.add_parser(commands)
    tasks.add_parser(commands)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="comeback", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the engine on this machine")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    serve = local_commands.add_parser("serve", help="the whole engine against an embedded AWS emulator")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument(
        "--shop", action="append", metavar="ID:SECRET", help="a shop and its whsec_ secret (repeatable)"
    )
    serve.add_argument("--playbook", action="append", metavar="ID=FILE", help="a shop's playbook YAML")
    serve.add_argument(
        "--platform-secret",
        action="append",
        metavar="SHOP:PLATFORM:SECRET",
        help="a shop's Shopify, WooCommerce or Segment webhook secret (repeatable)",
    )
    serve.add_argument("--start", metavar="ISO", help="where simulated time starts (default: now)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING (default) or ERROR")
    serve.add_argument(
        "--no-schedules",
        action="store_true",
        help="do not fire schedules on simulated time (run sweeps by hand)",
    )
    serve.add_argument(
        "--data",
        metavar="DIR",
        help="keep the emulated AWS state, clock and outbox in DIR across restarts (default: in memory)",
    )
    serve.set_defaults(run=_serve)

    demo = commands.add_parser("demo", help="replay a generated shop through the local engine")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--days", type=int, default=548)
    demo.add_argument("--port", type=int, default=0, help="port of the local runtime (default: any free one)")
    demo.add_argument(
        "--report",
        default="build/demo-report.html",
        metavar="PATH",
        help="where the shop's insight report is written (HTML; default build/demo-report.html)",
    )
    demo.add_argument("--no-report", action="store_true", help="write no report")
    demo.set_defaults(run=_demo)

    schemas = commands.add_parser("schemas", help="JSON Schemas and the OpenAPI document")
    schemas.add_argument("action", choices=["write"])
    schemas.add_argument("--out", default="events")
    schemas.set_defaults(run=_schemas)

    shops = commands.add_parser("shops", help="create, list and rotate shops (AWS or the local runtime)")
    shops.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    shops.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")
    shop_commands = shops.add_subparsers(dest="shops_command", required=True)
    create = shop_commands.add_parser("create")
    create.add_argument("shop_id")
    create.add_argument("--name", required=True)
    create.add_argument("--playbook", metavar="FILE")
    shop_commands.add_parser("list")
    rotate = shop_commands.add_parser("rotate-secret")
    rotate.add_argument("shop_id")
    rotate.add_argument("--drop-previous", action="store_true", help="stop accepting the old secret at once")
    _add_set_platform_secret(shop_commands)
    migrate = shop_commands.add_parser(
        "migrate-secrets",
        help="copy shop secrets and the token key from Secrets Manager (older stacks) to Parameter Store",
    )
    migrate.add_argument("--apply", action="store_true", help="write the parameters (default: a dry run)")
    migrate.add_argument(
        "--overwrite-token-key",
        action="store_true",
        help="replace a token key parameter that differs (old links verify again, newer ones stop)",
    )
    shops.set_defaults(run=_shops)

    _add_contacts(commands)

    _add_templates(commands)

    _add_reports_rewards_and_loyalty(commands)

    args = parser.parse_args(argv)
    from comeback.cli.errors import run

    return run(lambda: int(args.run(args)))


if __name__ == "__main__":
    sys.exit(main())
