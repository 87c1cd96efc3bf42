"""The insight reports as plain-text tables (`comeback report ... --format table`), from the same
JSON document the HTML and `--format json` show (comeback.cli.insight)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from comeback.cli.report import render_table as campaign_table
from comeback.cli.tables import columns
from comeback.domain.money import format_money


def render_document(doc: dict[str, Any]) -> str:
    currency = doc.get("currency") or ""
    head = (
        f"shop {doc['shop_id']} ({doc.get('shop_name') or doc['shop_id']}), as of {doc['generated_at'][:16]}"
    )
    parts = [head]
    for name, render in RENDERERS.items():
        section = doc.get(name)
        if section is not None:
            parts.append(render(section, currency))
    return "\n\n".join(p.rstrip("\n") for p in parts) + "\n"


def _money(minor: float | int | None, currency: str) -> str:
    return "-" if minor is None or not currency else format_money(round(minor), currency)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _table(header: list[str], rows: list[list[object]], left: int = 1) -> list[str]:
    return columns([header, *rows], right=set(range(left, len(header))))


def _retention(section: dict[str, Any], currency: str) -> str:
    lines = [
        f"retention by month, {section['since']} to {section['until']} (customers: ordered in the last "
        f"{section['window_months']} month(s); reactivated: back after {section['lapse_months']}+ months)"
    ]
    header = [
        "month",
        "active",
        "new",
        "at start",
        "retained",
        "retention",
        "churn",
        "reactivated",
        "orders",
        "AOV",
        "frequency",
        "revenue new",
        "revenue returning",
        "repeat rate",
    ]
    rows = [
        [
            p["period"],
            p["active_customers"],
            p["new_customers"],
            p["customers_at_start"],
            p["retained_customers"],
            _pct(p["retention_rate"]),
            _pct(p["churn_rate"]),
            p["reactivated_customers"],
            p["orders"],
            _money(p["average_order_value_minor"], currency),
            _num(p["purchase_frequency"]),
            _money(p["revenue_new_minor"], currency),
            _money(p["revenue_returning_minor"], currency),
            _pct(p["repeat_purchase_rate"]),
        ]
        for p in section["periods"]
    ]
    lines.extend(_table(header, rows) if rows else ["no orders yet"])
    lines.append(_clv_line("historic CLV to date", section.get("clv"), currency))
    return "\n".join(lines)


def _clv_line(label: str, clv: dict[str, Any] | None, currency: str) -> str:
    if not clv or not clv.get("customers"):
        return f"{label}: no customers yet"
    pct = clv.get("percentiles_minor") or {}
    spread = ", ".join(f"{k} {_money(v, currency)}" for k, v in pct.items())
    average = _money(clv.get("average_minor"), currency)
    return f"{label}: {clv['customers']:,} customers, average {average} ({spread})"


def _cohorts(section: dict[str, Any], currency: str) -> str:
    cohorts = section["cohorts"]
    lines = [
        f"cohorts by first order's {section['by']}, {section['since']} to {section['until']}: "
        "share still ordering in each month since the first (revenue per customer below)"
    ]
    if not cohorts:
        return "\n".join([*lines, "no orders yet"])
    width = max(len(c["cells"]) for c in cohorts)
    header = ["cohort", "customers", *(f"m{k}" for k in range(width))]
    shares = [[c["group"], c["customers"], *(_pct(cell["share"]) for cell in c["cells"])] for c in cohorts]
    money = [
        [
            c["group"],
            c["customers"],
            *(_money(cell["revenue_per_customer_minor"], currency) for cell in c["cells"]),
        ]
        for c in cohorts
    ]
    return "\n".join([*lines, *_table(header, shares), "", *_table(header, money)])


def _rfm(section: dict[str, Any], currency: str) -> str:
    lines = [f"RFM segments of {section['buyers']:,} buyers (quintiles of recency, frequency, spend)"]
    header = ["segment", "customers", "share", "revenue", "revenue share", "average spent", "recency days"]
    rows = [
        [
            s["segment"],
            s["customers"],
            _pct(s["share"]),
            _money(s["revenue_minor"], currency),
            _pct(s["revenue_share"]),
            _money(s["average_spent_minor"], currency),
            _num(s["average_recency_days"], 0),
        ]
        for s in section["segments"]
    ]
    return "\n".join([*lines, *_table(header, rows)])


def _clv(section: dict[str, Any], currency: str) -> str:
    lines = [_clv_line("CLV, historic to date", section.get("historic"), currency)]
    if section.get("predicted"):
        confidence = " (low confidence)" if section.get("confidence") == "low" else ""
        lines.append(_clv_line(f"CLV, predicted next 365 days{confidence}", section["predicted"], currency))
    else:
        lines.append(f"CLV, predicted: {section.get('reason') or 'no spend model'}")
    return "\n".join(lines)


def _predictions(section: dict[str, Any], currency: str) -> str:
    model = section.get("model") or {}
    if section.get("reason") or not model:
        lines = [f"predictions: {section.get('reason') or 'no model'}"]
    else:
        lines = [
            f"predictions ({model['confidence']} confidence): BG/NBD r {model['r']:.3f}, "
            f"alpha {model['alpha']:.2f} days, "
            f"a {model['a']:.3f}, b {model['b']:.3f}; log-likelihood {model['log_likelihood']:,.1f}; "
            f"{model['repeat_customers']:,} of {model['customers']:,} customers with a repeat order over "
            f"{model['history_days']:.0f} days"
        ]
        if model.get("p") is not None:
            lines.append(f"Gamma-Gamma p {model['p']:.3f}, q {model['q']:.3f}, v {model['v']:.2f}")
        hist = model["quality"]["histogram"]
        lines.extend(
            _table(
                ["repeat orders", *(b["repeats"] for b in hist)],
                [
                    ["customers (actual)", *(b["actual"] for b in hist)],
                    ["customers (model)", *(_num(b["expected"], 1) for b in hist)],
                ],
            )
        )
        alive = section.get("p_alive")
        once = section.get("p_alive_one_time")
        if alive:
            lines.append(f"p_alive, repeat buyers: {alive['customers']:,}, average {alive['average']:.2f}")
        if once:
            lines.append(
                f"p_alive, one-time buyers: {once['customers']:,}, average {once['average']:.2f} "
                "(the model cannot see them drop out before a repeat: read with care)"
            )
        lines.append(
            f"expected orders in the next 90 days, all buyers: {_num(section.get('expected_orders_90d'), 1)}"
        )
    backtest = section.get("backtest")
    if backtest and not backtest.get("model"):
        lines.append(
            f"backtest: before {backtest['calibration_end'][:10]} too few customers ordered again "
            "to fit a model: nothing to score"
        )
    elif backtest:
        lines.append(
            f"backtest: fitted up to {backtest['calibration_end'][:10]}, "
            f"forecast to {backtest['holdout_end'][:10]}: "
            f"{backtest['predicted_total']:,.1f} repeat orders predicted, {backtest['actual_total']:,} came; "
            f"aggregate error {_pct(backtest['aggregate_error'])}, "
            f"per-customer MAE {_num(backtest['mae'], 3)}"
        )
    return "\n".join(lines)


def _recipes(section: dict[str, Any], currency: str) -> str:
    from comeback.domain.campaign_report import report_from_dict

    if not section["campaigns"]:
        return "recipes: no messages yet"
    return "\n".join(campaign_table(report_from_dict(c)) for c in section["campaigns"])


def _calendar(section: dict[str, Any], currency: str) -> str:
    names = sorted({n for d in section["by_day"] for n in (*d["due"], *d["held"])} | set(section["overdue"]))
    lines = [
        f"calendar: the next {section['days']} days ({section['timezone']}): contacts due per recipe "
        "(each recipe decides then whether to send), + messages held for a cap or quiet hours"
    ]
    if not names:
        return "\n".join([*lines, "nothing due"])

    def cell(day: dict[str, Any], name: str) -> str:
        due, held = day["due"].get(name, 0), day["held"].get(name, 0)
        return f"{due}+{held}" if held else str(due) if due else "."

    rows = [[d["day"], *(cell(d, n) for n in names)] for d in section["by_day"]]
    overdue = [
        ["overdue", *(cell({"due": section["overdue"], "held": section["overdue_held"]}, n) for n in names)]
    ]
    return "\n".join([*lines, *_table(["day", *names], overdue + rows)])


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {
    "retention": _retention,
    "cohorts": _cohorts,
    "rfm": _rfm,
    "clv": _clv,
    "predictions": _predictions,
    "recipes": _recipes,
    "calendar": _calendar,
}
