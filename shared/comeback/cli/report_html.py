"""`comeback report ... --format html`: the insight report as one self-contained HTML file.

`render_html(document, lang)` takes the `all` report's JSON (or a document holding one section)
and returns a page with its CSS inline, its charts as inline SVG drawn here (`report_charts`) and
no reference to anything outside the file: it opens without a network. A content security policy
forbids every fetch, so a stray reference would show as an error rather than load. The only
script is the self-check: on load it counts the charts drawn (marks with a non-zero box) and the
errors seen, into `body[data-charts]` ("drawn/total"), `body[data-errors]` and `<pre id="errors">`,
which `chromium --headless --dump-dom` shows to a test.

Sections, each optional (missing or None: not shown): `retention`, `cohorts`, `rfm`, `clv`,
`predictions`, `recipes`, `calendar`, in the shapes `comeback report NAME --format json` prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from comeback.cli import report_charts as charts
from comeback.cli.report_labels import LANGS, Lang, label, segment_name
from comeback.domain.money import MoneyError, format_money

SECTIONS = ("retention", "cohorts", "rfm", "clv", "predictions", "recipes", "calendar")
DASH = "–"

CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "Hiragino Sans", "Noto Sans CJK JP", sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; color: #222; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 4px; } h2 { border-bottom: 2px solid #2f6db5; padding-bottom: 4px;
  margin-top: 40px; } h3 { font-size: 1.05em; margin-top: 24px; }
.meta { color: #555; margin: 0 0 16px; } .meta span { margin-right: 18px; }
nav a { margin-right: 14px; color: #2f6db5; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.86em; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { background: #f3f5f8; }
.scroll { overflow-x: auto; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0 4px; font-size: 11px; }
svg .tick { fill: #555; } svg .axis-label { fill: #333; font-size: 12px; }
svg text.legend { font-size: 11px; fill: #333; } svg .note { fill: #777; font-size: 14px; }
svg .cell-text { font-size: 10px; } svg .value { font-size: 10px; fill: #444; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; font-size: 0.85em;
  font-weight: 600; vertical-align: middle; margin-left: 8px; }
.badge.low { background: #fde2cf; color: #8a3b00; border: 1px solid #e0823d; }
.badge.normal { background: #dcefe2; color: #1d5b32; border: 1px solid #3a9a5b; }
.warning { color: #8a3b00; } .empty { color: #777; font-style: italic; }
#errors { display: none; }
"""

# Counts the charts drawn and the errors seen; nothing else runs on the page.
SELF_CHECK = """
(function () {
  var errors = [];
  window.onerror = function (message) { errors.push(String(message)); };
  var original = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  document.addEventListener("securitypolicyviolation", function (e) {
    errors.push("blocked: " + e.blockedURI);
  });
  window.addEventListener("load", function () {
    var all = document.querySelectorAll("svg[data-chart]"), drawn = 0;
    for (var i = 0; i < all.length; i++) {
      var svg = all[i], marks = svg.querySelectorAll(".mark"), seen = false;
      for (var j = 0; j < marks.length && !seen; j++) {
        var b = marks[j].getBBox();
        seen = b.width > 0 || b.height > 0;
      }
      var box = svg.getBBox();
      if (seen && box.width > 0 && box.height > 0) { drawn++; }
      else { errors.push("chart not drawn: " + svg.getAttribute("data-chart")); }
    }
    document.body.dataset.charts = drawn + "/" + all.length;
    document.body.dataset.errors = String(errors.length);
    document.getElementById("errors").textContent = errors.join("\\n");
  });
})();
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def money(minor: float | None, currency: str | None) -> str:
    if minor is None:
        return DASH
    whole = round(minor)
    if not currency:
        return f"{whole:,}"
    try:
        return format_money(whole, currency)
    except MoneyError:
        return f"{whole:,} {currency}"


def pct(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table of already formatted cells (each escaped here)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


class _Page:
    """What each section needs: the language, the currency, and the words."""

    def __init__(self, lang: Lang, currency: str | None) -> None:
        self.lang = lang
        self.currency = currency

    def t(self, key: str) -> str:
        return label(key, self.lang)

    def money(self, minor: float | None, currency: str | None = None) -> str:
        return money(minor, currency or self.currency)

    def money_fmt(self, currency: str | None = None) -> Callable[[float], str]:
        return lambda v: money(v, currency or self.currency)

    @property
    def note(self) -> str:
        return self.t("no_data")


def _section(key: str, page: _Page, body: str, badge: str = "") -> str:
    return f'<section id="{key}"><h2>{_e(page.t(key))}{badge}</h2>{body}</section>'


def _meta(pairs: Sequence[tuple[str, object]]) -> str:
    return '<p class="meta">' + "".join(f"<span>{_e(k)}: {_e(v)}</span>" for k, v in pairs) + "</p>"


# -- retention --------------------------------------------------------------------------------


def retention_section(data: Mapping[str, Any], page: _Page, with_clv: bool) -> str:
    t = page.t
    currency = data.get("currency") or page.currency
    periods: list[Mapping[str, Any]] = list(data.get("periods") or [])
    months = [str(p.get("period", "")) for p in periods]
    parts = [
        _meta(
            [
                (t("month"), f"{data.get('since', DASH)} – {data.get('until', DASH)}"),
                (t("window"), data.get("window_months", DASH)),
            ]
        )
    ]
    parts.append(
        charts.line_chart(
            "retention-rates",
            t("retention_churn"),
            months,
            [
                (t("retention_rate"), [p.get("retention_rate") for p in periods]),
                (t("churn_rate"), [p.get("churn_rate") for p in periods]),
            ],
            x_label=t("month"),
            y_label=t("rate"),
            fmt=charts.percent,
            y_min=0.0,
            y_max=1.0,
            note=page.note,
        )
    )
    parts.append(
        charts.bar_chart(
            "retention-customers",
            t("active_new"),
            months,
            [
                (t("active_customers"), [int(p.get("active_customers") or 0) for p in periods]),
                (t("new_customers"), [int(p.get("new_customers") or 0) for p in periods]),
            ],
            x_label=t("month"),
            y_label=t("customers"),
            note=page.note,
        )
    )
    parts.append(
        charts.bar_chart(
            "retention-revenue",
            t("revenue_split"),
            months,
            [
                (t("revenue_new"), [int(p.get("revenue_new_minor") or 0) for p in periods]),
                (t("revenue_returning"), [int(p.get("revenue_returning_minor") or 0) for p in periods]),
            ],
            stacked=True,
            x_label=t("month"),
            y_label=t("revenue"),
            fmt=page.money_fmt(currency),
            note=page.note,
        )
    )
    headers = [
        t(k)
        for k in (
            "month",
            "active_customers",
            "new_customers",
            "returning_customers",
            "reactivated_customers",
            "retention_rate",
            "churn_rate",
            "orders",
            "revenue",
            "aov",
            "frequency",
            "repeat_rate",
        )
    ]
    rows = [
        [
            str(p.get("period", "")),
            num(p.get("active_customers")),
            num(p.get("new_customers")),
            num(p.get("returning_customers")),
            num(p.get("reactivated_customers")),
            pct(p.get("retention_rate")),
            pct(p.get("churn_rate")),
            num(p.get("orders")),
            page.money(p.get("revenue_minor"), currency),
            page.money(p.get("average_order_value_minor"), currency),
            num(p.get("purchase_frequency")),
            pct(p.get("repeat_purchase_rate")),
        ]
        for p in periods
    ]
    parts.append(table(headers, rows) if rows else f'<p class="empty">{_e(page.note)}</p>')
    if with_clv and data.get("clv"):
        parts.append(_clv_block("retention-clv", t("historic_clv"), data["clv"], currency, page))
    return _section("retention", page, "".join(parts))


# -- cohorts ----------------------------------------------------------------------------------


def cohorts_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    currency = data.get("currency") or page.currency
    cohorts: list[Mapping[str, Any]] = list(data.get("cohorts") or [])
    width = max((len(c.get("cells") or []) for c in cohorts), default=0)
    rows = [f"{c.get('group', '')} ({num(c.get('customers'))})" for c in cohorts]
    columns = [str(k) for k in range(width)]

    def grid(key: str) -> list[list[float | None]]:
        out: list[list[float | None]] = []
        for c in cohorts:
            cells = {int(cell.get("months_since", 0)): cell for cell in c.get("cells") or []}
            out.append([cells[k].get(key) if k in cells else None for k in range(width)])
        return out

    shares, revenue = grid("share"), grid("revenue_per_customer_minor")
    parts = [
        _meta(
            [
                (t("cohort_by"), data.get("by", "month")),
                (t("month"), f"{data.get('since', DASH)} – {data.get('until', DASH)}"),
            ]
        )
    ]
    parts.append(
        charts.heat_map(
            "cohort-share",
            t("cohort_share"),
            rows,
            columns,
            shares,
            [[pct(v, 0) if v is not None else "" for v in row] for row in shares],
            x_label=t("months_since"),
            y_label=t("cohort"),
            scale_max=1.0,
            note=page.note,
        )
    )
    parts.append(
        charts.heat_map(
            "cohort-revenue",
            t("cohort_revenue"),
            rows,
            columns,
            revenue,
            [[page.money(v, currency) if v is not None else "" for v in row] for row in revenue],
            x_label=t("months_since"),
            y_label=t("cohort"),
            note=page.note,
        )
    )
    return _section("cohorts", page, "".join(parts))


# -- RFM --------------------------------------------------------------------------------------


def rfm_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    currency = data.get("currency") or page.currency
    summaries: list[Mapping[str, Any]] = list(data.get("segments") or [])
    names = [segment_name(str(s.get("segment", "")), page.lang) for s in summaries]
    parts = [_meta([(t("buyers"), num(data.get("buyers"))), (t("measured_at"), data.get("at", DASH))])]
    has_buyers = any(int(s.get("customers") or 0) for s in summaries)
    parts.append(
        charts.hbar_chart(
            "rfm-segments",
            t("segment_sizes"),
            names if has_buyers else [],
            [
                (t("customer_share"), [float(s.get("share") or 0) for s in summaries]),
                (t("revenue_share"), [float(s.get("revenue_share") or 0) for s in summaries]),
            ],
            x_label=t("customer_share") + " / " + t("revenue_share"),
            fmt=charts.percent,
            note=page.note,
        )
    )
    headers = [
        t(k)
        for k in (
            "segment",
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "average_spent",
            "recency_days",
        )
    ]
    rows = [
        [
            name,
            num(s.get("customers")),
            pct(s.get("share")),
            page.money(s.get("revenue_minor"), currency),
            pct(s.get("revenue_share")),
            page.money(s.get("average_spent_minor"), currency),
            num(s.get("average_recency_days"), 1),
        ]
        for name, s in zip(names, summaries, strict=True)
    ]
    parts.append(table(headers, rows))
    return _section("rfm", page, "".join(parts))


# -- CLV --------------------------------------------------------------------------------------


def _bin_label(b: Mapping[str, Any], currency: str | None) -> str:
    """A bin by its lower edge (the last one, open above, with a "+")."""
    lower = money(b.get("lower_minor"), currency)
    return f"{lower}+" if b.get("upper_minor") is None else lower


def _clv_block(chart: str, title: str, clv: Mapping[str, Any], currency: str | None, page: _Page) -> str:
    t = page.t
    bins: list[Mapping[str, Any]] = list(clv.get("bins") or [])
    parts = [f"<h3>{_e(title)}</h3>"]
    parts.append(
        charts.bar_chart(
            chart,
            title,
            [_bin_label(b, currency) for b in bins],
            [(t("customers"), [int(b.get("customers") or 0) for b in bins])],
            x_label=t("spend"),
            y_label=t("customers"),
            note=page.note,
        )
    )
    percentiles: Mapping[str, Any] = clv.get("percentiles_minor") or {}
    headers = [t("customers"), t("average"), *(k for k in percentiles)]
    row = [num(clv.get("customers")), page.money(clv.get("average_minor"), currency)]
    row += [page.money(v, currency) for v in percentiles.values()]
    if clv.get("total_minor") is not None:
        headers.append(t("total"))
        row.append(page.money(clv.get("total_minor"), currency))
    parts.append(table(headers, [row]))
    return "".join(parts)


def clv_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    currency = data.get("currency") or page.currency
    parts = []
    historic = data.get("historic")
    if historic:
        parts.append(_meta([(t("until"), historic.get("until", DASH))]))
        parts.append(_clv_block("clv-historic", t("historic_clv"), historic, currency, page))
    predicted = data.get("predicted")
    if predicted:
        parts.append(_clv_block("clv-predicted", t("predicted_clv"), predicted, currency, page))
    if not parts:
        parts.append(charts.empty_chart("clv-historic", t("historic_clv"), page.note))
    return _section("clv", page, "".join(parts))


# -- predictions ------------------------------------------------------------------------------


def predictions_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    model: Mapping[str, Any] | None = data.get("model")
    parts: list[str] = []
    badge = ""
    if model is None:
        reason = data.get("reason")
        parts.append(f'<p class="empty">{_e(t("no_model"))}{": " + _e(reason) if reason else ""}</p>')
    else:
        low = model.get("confidence") == "low"
        kind = "low" if low else "normal"
        badge = f'<span class="badge {kind}" data-confidence="{kind}">{_e(t(kind + "_confidence"))}</span>'
        quality: Mapping[str, Any] = model.get("quality") or {}
        currency = model.get("currency") or page.currency
        params = [
            ("r", num(model.get("r"), 4)),
            ("alpha", num(model.get("alpha"), 4)),
            ("a", num(model.get("a"), 4)),
            ("b", num(model.get("b"), 4)),
            ("p", num(model.get("p"), 4)),
            ("q", num(model.get("q"), 4)),
            ("v", num(model.get("v"), 4)),
            (t("customers"), num(model.get("customers"))),
            (t("repeat_customers"), num(model.get("repeat_customers"))),
            (t("history_days"), num(model.get("history_days"), 1)),
            (t("log_likelihood"), num(model.get("log_likelihood"), 2)),
            (t("histogram_mae"), num(quality.get("histogram_mae"), 2)),
            (t("qualifies"), t("yes") if model.get("qualifies") else t("no")),
            (t("fitted_at"), str(model.get("fitted_at", DASH))),
            (t("currency"), str(currency or DASH)),
        ]
        parts.append(f"<h3>{_e(t('parameters'))}</h3>")
        parts.append(table([t("parameter"), t("value")], [list(p) for p in params]))
        histogram: list[Mapping[str, Any]] = list(quality.get("histogram") or [])
        parts.append(
            charts.bar_chart(
                "prediction-fit",
                t("repeat_histogram"),
                [str(h.get("repeats", "")) for h in histogram],
                [
                    (t("actual"), [float(h.get("actual") or 0) for h in histogram]),
                    (t("expected"), [float(h.get("expected") or 0) for h in histogram]),
                ],
                x_label=t("repeat_orders"),
                y_label=t("customers"),
                note=page.note,
            )
        )
    alive: list[Mapping[str, Any]] = list(data.get("p_alive_bins") or [])
    parts.append(
        charts.bar_chart(
            "prediction-p-alive",
            t("p_alive"),
            [f"{pct(b.get('lower'), 0)}–{pct(b.get('upper'), 0)}" for b in alive],
            [(t("customers"), [int(b.get("customers") or 0) for b in alive])],
            x_label=t("probability"),
            y_label=t("customers"),
            note=page.note,
        )
    )
    backtest: Mapping[str, Any] | None = data.get("backtest")
    if backtest:
        weeks: list[Mapping[str, Any]] = list(backtest.get("weeks") or [])
        parts.append(f"<h3>{_e(t('backtest'))}</h3>")
        parts.append(
            charts.line_chart(
                "prediction-backtest",
                t("backtest"),
                [str(w.get("week_start", ""))[:10] for w in weeks],
                [
                    (t("predicted"), [w.get("predicted") for w in weeks]),
                    (t("actual"), [w.get("actual") for w in weeks]),
                ],
                x_label=t("week"),
                y_label=t("orders"),
                y_min=0.0,
                note=page.note,
            )
        )
        summary = [
            (t("calibration_end"), str(backtest.get("calibration_end", DASH))),
            (t("holdout_end"), str(backtest.get("holdout_end", DASH))),
            (t("customers"), num(backtest.get("customers"))),
            (t("predicted_total"), num(backtest.get("predicted_total"), 1)),
            (t("actual_total"), num(backtest.get("actual_total"), 1)),
            (t("aggregate_error"), pct(backtest.get("aggregate_error"))),
            (t("mae"), num(backtest.get("mae"), 3)),
        ]
        parts.append(table([t("parameter"), t("value")], [list(s) for s in summary]))
    return _section("predictions", page, "".join(parts), badge)


# -- campaigns --------------------------------------------------------------------------------


def _row_label(row: Mapping[str, Any], page: _Page) -> str:
    step = row.get("step")
    text = page.t("all_steps") if step is None else f"{page.t('step')} {step}"
    timing = row.get("timing")
    if timing is not None:
        text = f"{text} / {timing}"
    variant = row.get("variant")
    return text if variant is None else f"{text} ({variant})"


def _revenue(group: Mapping[str, Any]) -> str:
    spent: Mapping[str, int] = group.get("revenue_minor") or {}
    return ", ".join(money(v, c) for c, v in spent.items()) or DASH


def recipes_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    campaigns: list[Mapping[str, Any]] = list(data.get("campaigns") or [])
    parts: list[str] = []
    if not campaigns:
        parts.append(f'<p class="empty">{_e(t("no_campaigns"))}</p>')
        parts.append(charts.empty_chart("lift", t("lift_chart"), page.note))
    for index, report in enumerate(campaigns):
        name = str(report.get("campaign", ""))
        rows: list[Mapping[str, Any]] = list(report.get("rows") or [])
        parts.append(f"<h3>{_e(t('campaign'))}: {_e(name)}</h3>")
        parts.append(_meta([(t("until"), report.get("as_of", DASH))]))
        parts.append(
            charts.interval_chart(
                f"lift-{index}-{name}",
                f"{t('lift_chart')}: {name}",
                [(_row_label(r, page), r.get("lift"), r.get("lift_low"), r.get("lift_high")) for r in rows],
                x_label=t("lift"),
                note=page.note,
            )
        )
        headers = [
            t(k)
            for k in (
                "step",
                "sent",
                "delivered",
                "opened",
                "clicked",
                "treated",
                "reactivated",
                "rate",
                "revenue",
                "holdout",
                "reactivated",
                "rate",
                "revenue",
                "lift",
                "interval",
                "detectable",
            )
        ]
        cells = []
        for r in rows:
            treated: Mapping[str, Any] = r.get("treated") or {}
            holdout: Mapping[str, Any] = r.get("holdout") or {}
            interval = (
                f"[{pct(r.get('lift_low'))}, {pct(r.get('lift_high'))}]"
                if r.get("lift") is not None
                else DASH
            )
            cells.append(
                [
                    _row_label(r, page),
                    num(r.get("sent")),
                    num(r.get("delivered")),
                    num(r.get("opened")),
                    num(r.get("clicked")),
                    num(treated.get("contacts")),
                    num(treated.get("reactivated")),
                    pct(treated.get("rate")),
                    _revenue(treated),
                    num(holdout.get("contacts")),
                    num(holdout.get("reactivated")),
                    pct(holdout.get("rate")),
                    _revenue(holdout),
                    pct(r.get("lift")),
                    interval,
                    pct(r.get("detectable_lift")),
                ]
            )
        parts.append(table(headers, cells))
        warnings = report.get("warnings") or []
        if warnings:
            items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
            parts.append(f'<div class="warning"><strong>{_e(t("warnings"))}</strong><ul>{items}</ul></div>')
    return _section("recipes", page, "".join(parts))


# -- calendar ---------------------------------------------------------------------------------


def calendar_section(data: Mapping[str, Any], page: _Page) -> str:
    t = page.t
    days: list[Mapping[str, Any]] = list(data.get("by_day") or [])
    recipes = sorted({str(k) for d in days for part in ("due", "held") for k in (d.get(part) or {})})
    labels = [str(d.get("day", "")) for d in days]
    parts = [_meta([(t("day"), f"{data.get('from', DASH)} (+{data.get('days', len(days))})")])]
    parts.append(
        charts.bar_chart(
            "calendar-due",
            t("calendar_chart"),
            labels if recipes else [],
            [(r, [int((d.get("due") or {}).get(r, 0)) for d in days]) for r in recipes],
            stacked=True,
            x_label=t("day"),
            y_label=t("messages"),
            note=page.note,
        )
    )
    headers = [t("day")] + [f"{r} {t('due')} / {t('held')}" for r in recipes]
    rows = [
        [str(d.get("day", ""))]
        + [f"{num((d.get('due') or {}).get(r, 0))} / {num((d.get('held') or {}).get(r, 0))}" for r in recipes]
        for d in days
    ]
    parts.append(table(headers, rows) if rows else f'<p class="empty">{_e(page.note)}</p>')
    return _section("calendar", page, "".join(parts))


# -- the page ---------------------------------------------------------------------------------


def render_html(document: Mapping[str, Any], lang: str = "en") -> str:
    """The report as one self-contained HTML page in `lang` ("en" or "ja")."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    language: Lang = "ja" if lang == "ja" else "en"
    page = _Page(language, document.get("currency"))
    t = page.t
    present = [key for key in SECTIONS if document.get(key) is not None]
    body: list[str] = []
    for key in present:
        data = document[key]
        if key == "retention":
            body.append(retention_section(data, page, with_clv=document.get("clv") is None))
        elif key == "cohorts":
            body.append(cohorts_section(data, page))
        elif key == "rfm":
            body.append(rfm_section(data, page))
        elif key == "clv":
            body.append(clv_section(data, page))
        elif key == "predictions":
            body.append(predictions_section(data, page))
        elif key == "recipes":
            body.append(recipes_section(data, page))
        else:
            body.append(calendar_section(data, page))
    if not present:
        body.append(f'<p class="empty">{_e(t("no_sections"))}</p>')
    nav = "".join(f'<a href="#{key}">{_e(t(key))}</a>' for key in present)
    meta = _meta(
        [
            (t("shop"), document.get("shop_id") or DASH),
            (t("generated_at"), document.get("generated_at") or DASH),
            (t("currency"), document.get("currency") or DASH),
        ]
    )
    return "".join(
        [
            f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{_e(t('title'))} · {_e(document.get('shop_id') or '')}</title>\n",
            f"<style>{CSS}</style>\n<script>{SELF_CHECK}</script>\n</head>\n<body>\n",
            f"<header><h1>{_e(t('title'))}</h1>{meta}",
            f'<nav aria-label="{_e(t("contents"))}">{nav}</nav></header>\n<main>\n',
            "\n".join(body),
            f'\n</main>\n<pre id="errors" aria-label="{_e(t("errors"))}"></pre>\n</body>\n</html>\n',
        ]
    )
