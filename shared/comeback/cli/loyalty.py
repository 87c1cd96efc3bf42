"""`comeback loyalty recompute SHOP`: replay every buyer's ledger under the shop's current rules.

Tiers can change after launch: a shop edits its playbook (`comeback shops set-playbook`), and the
contact view shows every customer's points and tier under the new rules at once, since they are
replayed from the same facts. What the replay cannot do alone is decide what to *tell*: this
command lists who moves (from the tier last told to the tier the new rules give), records the new
tiers as told, and emails nobody unless `--notify` is given, in which case each upgrade is left to
the contact's next sweep to announce, through the sender (quiet hours, caps, exactly once).
`--dry-run` reports without writing.

It reads the shop's buyers from the `buyers` index (contacts with an order) and each profile once;
against AWS that is the operator's machine talking to DynamoDB (docs/loyalty.md has the figures).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any, TextIO

from comeback.cli.operator import aws_target, local_now, local_target


def add_parser(commands: Any) -> None:
    loyalty = commands.add_parser("loyalty", help="the loyalty program: replay ledgers under new rules")
    loyalty_commands = loyalty.add_subparsers(dest="loyalty_command", required=True)
    recompute = loyalty_commands.add_parser(
        "recompute", help="replay every buyer's points under the shop's current tiers; report who moves"
    )
    recompute.add_argument("shop_id", metavar="SHOP")
    recompute.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    recompute.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")
    recompute.add_argument("--notify", action="store_true", help="email each upgrade (at its next sweep)")
    recompute.add_argument("--dry-run", action="store_true", help="report who would move; write nothing")
    recompute.add_argument("--format", choices=["table", "json"], default="table")
    loyalty.set_defaults(run=command)


def command(args: Any, out: TextIO | None = None) -> int:
    from comeback.aws import clients as aws
    from comeback.aws.contact_store import ContactStore
    from comeback.aws.segment_store import DynamoSegmentStore
    from comeback.aws.shops import ShopAdmin, ShopDirectory
    from comeback.cli.errors import CliError
    from comeback.domain.clock import isoformat
    from comeback.domain.profile import Profile, empty
    from comeback.recipes import loyalty
    from comeback.recipes.base import decision_id

    out = out or sys.stdout
    target = local_target(args.local) if args.local else aws_target(args.stack)
    settings = target.settings
    if ShopAdmin(settings).get(args.shop_id) is None:
        raise CliError(f"no shop {args.shop_id!r}")
    book = ShopDirectory(settings).playbook(args.shop_id)
    if not loyalty.settings(book).enabled:
        raise CliError(f"shop {args.shop_id!r} has loyalty turned off in its playbook")
    now = local_now(args.local) if args.local else datetime.now(UTC)
    ddb = aws.client("dynamodb", settings)
    contacts = ContactStore(ddb, settings.table_name, settings.due_shards)
    buyers = DynamoSegmentStore(ddb, settings.table_name, settings.due_shards)
    run = uuid.uuid4().hex[:12]
    moves: list[loyalty.Move] = []
    replayed = 0
    for contact_id in buyers.contact_ids(args.shop_id):
        profile = contacts.get(args.shop_id, contact_id)
        if profile is None:
            continue
        replayed += 1
        found = loyalty.recompute(profile, book, now, args.notify)
        if found is None:
            continue
        moves.append(found[0])
        if args.dry_run:
            continue

        def change(stored: Profile, shop: str = args.shop_id, contact: str = contact_id) -> Profile | None:
            again = loyalty.recompute(stored, book, now, args.notify)  # on what is stored right now
            if again is None:
                return None
            entry = {"v": again[1], "at": isoformat(now), "id": decision_id("recompute", run, contact)}
            return empty(shop, contact).model_copy(update={"recipes": {loyalty.NAME: entry}})

        contacts.apply_delta(args.shop_id, contact_id, change, f"RECOMPUTE#{run}", book, isoformat(now))
    _report(out, args, replayed, moves)
    return 0


def _report(out: TextIO, args: Any, replayed: int, moves: list[Any]) -> None:
    counts = Counter(f"{m.before} -> {m.after}" for m in moves)
    if args.format == "json":
        document = {
            "shop_id": args.shop_id,
            "replayed": replayed,
            "moved": len(moves),
            "up": sum(m.up for m in moves),
            "down": sum(not m.up for m in moves),
            "written": not args.dry_run,
            "notify": bool(args.notify),
            "by_move": dict(sorted(counts.items())),
            "moves": [
                {
                    "customer_id": m.customer_id,
                    "contact_id": m.contact_id,
                    "from": m.before,
                    "to": m.after,
                    "up": m.up,
                    "lifetime_points": m.lifetime_points,
                    "measure": m.measure,
                }
                for m in moves
            ],
        }
        out.write(json.dumps(document, indent=2) + "\n")
        return
    up = sum(m.up for m in moves)
    verb = "would move" if args.dry_run else "moved"
    out.write(f"{replayed} buyers replayed under shop {args.shop_id}'s current rules: "
              f"{len(moves)} {verb} ({up} up, {len(moves) - up} down)\n")  # fmt: skip
    for move, count in sorted(counts.items()):
        out.write(f"  {move}: {count}\n")
    for m in moves[:50]:
        out.write(f"  {m.customer_id or m.contact_id}\t{m.before} -> {m.after}\t{m.lifetime_points} points\n")
    if len(moves) > 50:
        out.write(f"  ... and {len(moves) - 50} more (--format json lists them all)\n")
    if args.dry_run:
        out.write("Nothing was written (--dry-run).\n")
    elif args.notify:
        out.write(
            f"{up} upgrade emails will go out at each contact's next sweep; downgrades are not emailed.\n"
        )
    else:
        out.write("No one was emailed (--notify would announce the upgrades).\n")
