"""`comeback rewards upload-codes|list`: a shop's code pools and a customer's rewards.

A pool holds codes the shop created on its own platform (Shopify or WooCommerce discount codes),
one per line in a text file; an offer with `pool: NAME` draws each code once. Against AWS (the
default) the tool reads the deployed stack's outputs; against a local runtime (`--local URL`), its
settings, like `comeback shops` and `comeback contacts` (comeback.cli.operator).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from comeback.cli.errors import CliError
from comeback.cli.operator import aws_target, local_target
from comeback.cli.tables import columns

_POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def money(value_minor: int, currency: str | None) -> str:
    """An amount in its currency (`¥500`); an unknown currency as the number and its code."""
    from comeback.domain.money import MoneyError, format_money

    try:
        return format_money(value_minor, currency or "")
    except MoneyError:
        return f"{value_minor} {currency or ''}".strip()


def worth(view: dict[str, Any]) -> str:
    """What a reward is worth, as an operator reads it: `¥500`, `15%`, `free shipping`."""
    if "value_minor" in view:
        return money(int(view["value_minor"]), view.get("currency"))
    if "percent" in view:
        return f"{view['percent']}%"
    if view.get("gift"):
        return f"gift: {view['gift']}"
    return str(view["type"]).replace("_", " ")


def table(views: list[dict[str, Any]]) -> list[str]:
    """Rewards (their views) as aligned lines under a header: code, type, worth, state, dates ..."""
    header = ["code", "type", "worth", "state", "issued", "expires", "recipe", "order"]
    rows = [
        [
            v["code"],
            v["type"],
            worth(v),
            v["state"],
            v["issued_at"][:10],
            v["expires_at"][:10],
            f"{v['recipe']} {v['step']}",
            v.get("order_id", ""),
        ]
        for v in views
    ]
    return columns([header, *rows])


def rewards_command(args: Any, out: TextIO | None = None) -> int:
    """Run `comeback rewards ...`; 0 on success (errors raise, one line and status 2 in cli.errors)."""
    from comeback.aws import clients as aws
    from comeback.aws.contact_store import ContactStore
    from comeback.aws.reward_store import DynamoRewardStore
    from comeback.aws.shops import ShopAdmin
    from comeback.domain.rewards import InvalidCode, pool_codes

    out = out or sys.stdout
    target = local_target(args.local) if args.local else aws_target(args.stack)
    settings = target.settings
    where = args.local or f"stack {args.stack} ({settings.region})"
    ddb = aws.client("dynamodb", settings)
    store = DynamoRewardStore(ddb, settings.table_name)
    if ShopAdmin(settings).get(args.shop_id) is None:
        raise CliError(f"no shop {args.shop_id!r} in {where}")

    if args.rewards_command == "upload-codes":
        if not _POOL_NAME.match(args.pool):
            raise CliError(
                f"pool name {args.pool!r}: 1 to 64 of a-z, 0-9, '_' and '-', starting with a letter or digit"
            )
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        try:
            codes = pool_codes(text.splitlines())
        except InvalidCode as exc:
            raise CliError(f"{args.file}: {exc}; nothing was uploaded") from None
        if not codes:
            raise CliError(f"{args.file}: no codes in it (one code per line)")
        added = store.upload_pool(args.shop_id, args.pool, codes)
        size = store.pool_size(args.shop_id, args.pool)
        known = len(codes) - added
        out.write(
            f"pool {args.pool} of shop {args.shop_id}: {added} new codes added"
            + (f" ({known} already in the pool or issued before, skipped)" if known else "")
            + f"; {size} codes left to issue\n"
        )
        return 0

    customer = args.customer.strip()
    profile = ContactStore(ddb, settings.table_name, settings.due_shards).find(args.shop_id, customer)
    if profile is None and "@" in customer:
        raise CliError(f"no contact {customer!r} in shop {args.shop_id!r}")
    contact_id = profile.contact_id if profile else customer
    views = [reward.view() for reward in store.for_contact(args.shop_id, contact_id)]
    if args.format == "json":
        out.write(
            json.dumps({"shop_id": args.shop_id, "contact_id": contact_id, "rewards": views}, indent=2) + "\n"
        )
        return 0
    if not views:
        out.write(f"no rewards for {customer} in shop {args.shop_id}\n")
        return 0
    out.write("\n".join(table(views)) + "\n")
    return 0


def add_parser(commands: Any) -> None:
    """`comeback rewards ...` on the command line (registered by comeback.cli.main)."""
    import argparse

    rewards = commands.add_parser("rewards", help="upload a shop's code pools, list a customer's rewards")
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    target.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")
    reward_commands = rewards.add_subparsers(dest="rewards_command", required=True)
    upload = reward_commands.add_parser(
        "upload-codes", parents=[target], help="add codes the shop created on its platform to a pool"
    )
    upload.add_argument("shop_id", metavar="SHOP")
    upload.add_argument("pool", metavar="POOL", help="the pool's name (an offer's `pool`)")
    upload.add_argument("--file", required=True, help="one code per line ('-': standard input)")
    listing = reward_commands.add_parser(
        "list", parents=[target], help="a customer's rewards and their state"
    )
    listing.add_argument("shop_id", metavar="SHOP")
    listing.add_argument("customer", metavar="CUSTOMER", help="the shop's customer id, or an email")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    rewards.set_defaults(run=rewards_command)
