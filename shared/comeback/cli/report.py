"""`comeback report ...`: what the win-back campaign earned against its holdout (`winback`), and
the shop's insight reports (`retention|cohorts|rfm|clv|predictions|recipes|calendar|all`, built by
`comeback.cli.insight`, printed by `cli.insight_tables`, `cli.report_html` or as JSON).

It reaches the table the way `comeback contacts` does (the deployed stack's outputs, or the
local runtime's `/_local/settings` with `--local URL`), reads the campaign's records with
`comeback.aws.report_store`, and prints `comeback.domain.campaign_report`'s numbers as a table a
marketer reads or as JSON with the same numbers. What each column means: docs/reports.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from comeback.cli.errors import CliError
from comeback.cli.tables import columns

if TYPE_CHECKING:
    from comeback.domain.campaign_report import CampaignReport, Group, Row

# report name -> the campaign it measures (a recipe with a holdout joins here)
REPORTS = {"winback": "winback"}
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


INSIGHT = ("retention", "cohorts", "rfm", "clv", "predictions", "recipes", "calendar")
HELP = {
    "retention": "per month: active and new customers, retention, churn, repeat rate, AOV, revenue",
    "cohorts": "customers by month of first order (or code, channel) x months since: share ordering, revenue",
    "rfm": "RFM segments: customers, revenue and recency per segment",
    "clv": "customer lifetime value: historic to date, and predicted for the next 365 days",
    "predictions": "the shop's BG/NBD and Gamma-Gamma model, its fit, p_alive spread (--backtest: error)",
    "recipes": "per recipe and step: sent, delivered, opened, clicked, converted, revenue, lift over holdout",
    "calendar": "what the engine is due to consider in the next days, by day and recipe",
    "all": "every report (HTML: one self-contained file with charts)",
}


def add_parser(commands: Any) -> None:
    """Register `comeback report ...` on the top-level sub-commands."""
    report = commands.add_parser(
        "report", help="measure retention, recipes against their holdouts, predictions (AWS or local)"
    )
    kinds = report.add_subparsers(dest="report", required=True)
    for name in REPORTS:
        kind = kinds.add_parser(
            name,
            help=f"per step and variant: sent, engagement, reactivations, revenue, lift over the holdout"
            f" ({name})",
        )
        _common(kind, formats=("table", "json"), shop_help="one shop (default: every shop in the table)")
    for name in (*INSIGHT, "all"):
        kind = kinds.add_parser(name, help=HELP[name])
        _common(kind, formats=("table", "json", "html"), shop_help="the shop (default: the only one)")
        kind.add_argument("--lang", choices=["en", "ja"], default="en", help="the HTML report's labels")
        if name in ("cohorts", "all"):
            kind.add_argument(
                "--by",
                choices=["month", "code", "channel"],
                default="month",
                help="group cohorts by the first order's month, discount code or channel",
            )
        if name in ("predictions", "clv", "all"):
            kind.add_argument(
                "--backtest",
                action="store_true",
                help="fit on the history before a cut, forecast the rest, report the error",
            )
            kind.add_argument(
                "--holdout-days",
                type=_positive,
                metavar="N",
                help="the backtest's forecast period (default: the last third of the history)",
            )
        if name in ("calendar", "all"):
            kind.add_argument(
                "--days", type=_positive, default=14, metavar="N", help="days ahead (default 14)"
            )
    report.set_defaults(run=report_command)


def _common(kind: Any, formats: tuple[str, ...], shop_help: str) -> None:
    kind.add_argument("--shop", metavar="ID", help=shop_help)
    kind.add_argument("--since", metavar="DATE", help="only what happened on or after DATE (UTC)")
    kind.add_argument("--format", choices=list(formats), default="table")
    kind.add_argument("--local", metavar="URL", help="the local runtime's base URL instead of AWS")
    kind.add_argument("--stack", default="comeback", help="the deployed stack's name (AWS)")


def _positive(text: str) -> int:
    try:
        value = int(text)
        if not 1 <= value <= 3660:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"wants a whole number of days from 1 to 3660, got {text!r}"
        ) from None
    return value


def parse_since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        if not _DAY.fullmatch(text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"--since wants a day as YYYY-MM-DD, got {text!r}") from None


def report_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `comeback report NAME`; errors raise and become one line and status 2 (cli.errors)."""
    from comeback.cli.operator import aws_target, local_now, local_target

    out = out or sys.stdout
    since = parse_since(args.since)
    target = local_target(args.local) if args.local else aws_target(args.stack)
    # the local runtime's time is simulated: windows still open are judged on its clock
    as_of = local_now(args.local) if args.local else datetime.now(UTC)
    if args.report in REPORTS:
        return _campaign_report(args, target.settings, since, as_of, out)
    return insight_command(args, target.settings, since, as_of, out)


def _campaign_report(
    args: argparse.Namespace, settings: Any, since: date | None, as_of: datetime, out: TextIO
) -> int:
    from comeback.aws import clients as aws
    from comeback.aws.report_store import DynamoCampaignRecords
    from comeback.domain.campaign_report import build_report

    campaign = REPORTS[args.report]
    store = DynamoCampaignRecords(aws.client("dynamodb", settings), settings.table_name)
    records = store.records(args.shop, campaign, since)
    report = build_report(records, campaign=campaign, shop_id=args.shop, since=since, as_of=as_of)
    if args.format == "json":
        out.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(render_table(report))
    return 0


def insight_command(
    args: argparse.Namespace, settings: Any, since: date | None, as_of: datetime, out: TextIO
) -> int:
    """retention ... calendar, all: one document (cli.insight), rendered as asked."""
    from comeback.cli import insight

    shop_id = _shop(args.shop, settings)
    sections = insight.SECTIONS if args.report == "all" else (args.report,)
    sources = insight.Sources(settings=settings, shop_id=shop_id, now=as_of, since=since)
    doc = insight.document(sources, sections, args)
    if args.format == "json":
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "html":
        from comeback.cli.report_html import render_html

        out.write(render_html(doc, lang=args.lang))
    else:
        from comeback.cli.insight_tables import render_document

        out.write(render_document(doc))
    return 0


def _shop(asked: str | None, settings: Any) -> str:
    """The shop asked for, which must exist; without --shop, the table's only shop."""
    from comeback.aws import clients as aws
    from comeback.aws.segment_store import DynamoSegmentStore

    shops = DynamoSegmentStore(
        aws.client("dynamodb", settings), settings.table_name, settings.due_shards
    ).shops()
    if asked is not None:
        if asked not in shops:
            known = ", ".join(sorted(shops)) or "none"
            raise CliError(f"no shop {asked!r} in the table (shops: {known})")
        return asked
    if len(shops) == 1:
        return shops[0]
    if not shops:
        raise CliError("the table holds no shop yet: `comeback shops create` first")
    raise CliError(f"--shop ID: the table holds {len(shops)} shops ({', '.join(sorted(shops)[:10])})")


def _count(n: int, of: int) -> str:
    return f"{n:,} ({n / of:.1%})" if of else f"{n:,}"


def _rate(group: Group) -> str:
    return "-" if group.rate is None else f"{group.rate:.1%}"


def _points(value: float) -> str:
    return f"{value * 100:+.1f}"


def _money(revenue: dict[str, int] | Any) -> str:
    from comeback.domain.money import format_money

    if not revenue:
        return "-"
    return " + ".join(format_money(minor, currency) for currency, minor in sorted(revenue.items()))


def _cells(row: Row, timed: bool) -> list[str]:
    lift = row.lift
    known = lift.estimate is not None
    days = row.median_days_from_last_activity
    timing = [row.timing or "all", "-" if days is None else f"{days:,.0f}"] if timed else []
    return [
        "all" if row.step is None else str(row.step),
        row.variant or "all",
        *timing,
        f"{row.sent:,}",
        _count(row.delivered, row.sent),
        _count(row.opened, row.sent),
        _count(row.clicked, row.sent),
        f"{row.treated.contacts:,}",
        f"{row.treated.reactivated:,}",
        _rate(row.treated),
        _money(row.treated.revenue_minor),
        f"{row.holdout.contacts:,}",
        f"{row.holdout.reactivated:,}",
        _rate(row.holdout),
        _money(row.holdout.revenue_minor),
        _points(lift.estimate) if lift.estimate is not None else "-",
        f"[{_points(lift.low)}, {_points(lift.high)}]" if known else "-",
        "-" if row.detectable_lift is None else f"{row.detectable_lift * 100:.1f}",
    ]


_HEADERS = [
    "step",
    "variant",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "contacts",
    "reactivated",
    "rate",
    "revenue",
    "holdout",
    "h.react.",
    "h.rate",
    "h.revenue",
    "lift pp",
    "95% interval pp",
    "detectable pp",
]
# numbers line up on the right, names on the left
_LEFT = {0, 1}
# with timings recorded (win-back, predictive or compare timing): after the variant
_TIMING_HEADERS = ["timing", "days"]


def render_table(report: CampaignReport) -> str:
    """The report as aligned columns, then the warnings; ends with a newline."""
    shop = f"shop {report.shop_id}" if report.shop_id else "all shops"
    since = f", records requested since {report.since.isoformat()}" if report.since else ""
    lines = [f"{report.campaign} report: {shop}{since}, as of {report.as_of.strftime('%Y-%m-%d %H:%M')} UTC"]
    if not report.rows:
        lines.append(f"no {report.campaign} records found")
        return "\n".join(lines) + "\n"
    timed = any(row.timing is not None for row in report.rows)
    headers = [*_HEADERS[:2], *_TIMING_HEADERS, *_HEADERS[2:]] if timed else _HEADERS
    left = {*_LEFT, 2} if timed else _LEFT
    table = [headers, *(_cells(row, timed) for row in report.rows)]
    lines.extend(columns(table, right=set(range(len(headers))) - left))
    lines.append(
        "reactivated: ordered within 30 days; revenue: their spend in the 90 days from that order; "
        "lift: treated rate - holdout rate, in percentage points (Newcombe 95% interval); "
        "detectable: the smallest lift these sizes find 80% of the time"
        + (
            "; timing: how step 1 was timed (no_model: predictive without a model the shop can use,"
            " so at the fixed days), each against its own holdout; days: median days from the last"
            " activity to the step"
            if timed
            else ""
        )
    )
    if report.excluded:
        parts = ", ".join(f"{reason} {n:,}" for reason, n in sorted(report.excluded.items()))
        lines.append(f"in neither group: {parts}")
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    return "\n".join(lines) + "\n"
