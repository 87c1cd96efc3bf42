"""`comeback tasks list|done`: the shop team's follow-up tasks (an NPS detractor to answer).

`list` shows the open tasks of every shop (or of `--shop`), newest first; `--status done|all` the
others. `done TASK_ID` closes one (as a `feedback.responded` from the shop would). Against AWS (the
default) the tool reads the deployed stack's outputs; against a local runtime (`--local URL`), its
settings, like every operator command (comeback.cli.operator); either way the work is the same
`DynamoTaskStore`'s.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from comeback.cli.errors import CliError
from comeback.cli.operator import aws_target, local_now, local_target
from comeback.cli.tables import columns


def _money(minor: int, currency: str | None) -> str:
    from comeback.cli.rewards import money

    return money(minor, currency)


def table(tasks: list[Any]) -> list[str]:
    header = [
        "task",
        "shop",
        "customer",
        "score",
        "status",
        "created",
        "orders",
        "spent",
        "last order",
        "comment",
    ]
    rows = [
        [
            t.task_id,
            t.shop_id,
            t.customer_id or t.contact_id,
            "-" if t.score is None else str(t.score),
            t.status,
            t.created_at.isoformat()[:16].replace("T", " "),
            str(t.summary.orders_count),
            _money(t.summary.total_spent_minor, t.summary.currency),
            (t.summary.last_order_at or "-")[:10],
            _short(t.comment),
        ]
        for t in tasks
    ]
    return columns([header, *rows], right={3, 6, 7})


def _short(comment: str | None, width: int = 48) -> str:
    if not comment:
        return "-"
    flat = " ".join(comment.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def tasks_command(args: Any, out: TextIO | None = None) -> int:
    """Run `comeback tasks ...`; 0 on success (errors raise, one line and status 2 in cli.errors)."""
    from comeback.aws import clients as aws
    from comeback.aws.shops import ShopAdmin
    from comeback.aws.task_store import DynamoTaskStore

    out = out or sys.stdout
    target = local_target(args.local) if args.local else aws_target(args.stack)
    settings = target.settings
    where = args.local or f"stack {args.stack} ({settings.region})"
    store = DynamoTaskStore(aws.client("dynamodb", settings), settings.table_name)
    admin = ShopAdmin(settings)
    if args.shop:
        if admin.get(args.shop) is None:
            raise CliError(f"no shop {args.shop!r} in {where}")
        shops = [args.shop]
    else:
        shops = sorted(config.shop_id for config in admin.list())

    if args.tasks_command == "done":
        found = [t for shop in shops for t in store.list(shop) if t.task_id == args.task_id]
        if not found:
            raise CliError(f"no task {args.task_id!r} in {where}")
        task = found[0]
        if task.status == "done":
            out.write(f"task {task.task_id} was done already ({task.done_by}, {task.done_at})\n")
            return 0
        now = local_now(args.local) if args.local else datetime.now(UTC)
        closed = store.close(task.shop_id, task.contact_id, task.task_id, now, "operator")
        if closed is None or closed.status != "done":
            raise CliError(f"task {args.task_id!r} could not be closed")
        if args.format == "json":
            out.write(json.dumps(closed.view(), indent=2) + "\n")
        else:
            out.write(f"task {closed.task_id} done (shop {closed.shop_id}, customer {closed.customer_id})\n")
        return 0

    status = None if args.status == "all" else args.status
    tasks = [t for shop in shops for t in store.list(shop, status)]
    tasks.sort(key=lambda t: (t.created_at, t.task_id), reverse=True)
    if args.format == "json":
        out.write(json.dumps({"tasks": [t.view() for t in tasks]}, indent=2, ensure_ascii=False) + "\n")
        return 0
    if not tasks:
        out.write(f"no {'' if status is None else status + ' '}tasks in {where}\n")
        return 0
    out.write("\n".join(table(tasks)) + "\n")
    return 0


def add_parser(commands: Any) -> None:
    """`comeback tasks ...` on the command line (registered by comeback.cli.main)."""
    import argparse

    tasks = commands.add_parser("tasks", help="the shop team's follow-up tasks (NPS detractors)")
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    target.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")
    target.add_argument("--shop", metavar="SHOP", help="only this shop's tasks (default: every shop's)")
    target.add_argument("--format", choices=["table", "json"], default="table")
    task_commands = tasks.add_subparsers(dest="tasks_command", required=True)
    listing = task_commands.add_parser("list", parents=[target], help="open tasks, newest first")
    listing.add_argument("--status", choices=["open", "done", "all"], default="open")
    done = task_commands.add_parser("done", parents=[target], help="close a task once it is dealt with")
    done.add_argument("task_id", metavar="TASK_ID")
    tasks.set_defaults(run=tasks_command)
