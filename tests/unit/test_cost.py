"""The monthly cost model (bench/cost.py): arithmetic, shape of the table, sensitivity to usage."""

from __future__ import annotations

import dataclasses
import datetime
import math
import runpy
import sys

import pytest

from bench import cost
from bench.cost import PRICES, PRICES_AS_OF, Usage, items, monthly, table

SIZES = (10_000, 100_000, 1_000_000)
DEFAULT = Usage()


def total(contacts: int, usage: Usage = DEFAULT) -> float:
    return sum(monthly(contacts, usage).values())


def quantity(contacts: int, what: str, usage: Usage = DEFAULT) -> float:
    return next(i.quantity for i in items(contacts, usage) if i.what.startswith(what))


def test_totals_grow_with_contacts() -> None:
    totals = [total(n) for n in SIZES]
    assert totals == sorted(totals)
    assert totals[0] < totals[1] < totals[2]
    for service in cost.SERVICES:
        lines = [monthly(n)[service] for n in SIZES]
        assert lines == sorted(lines), service


def test_every_service_is_a_line_and_none_is_negative() -> None:
    odd = Usage(emails_per_contact=0, events_per_contact=0, due_share=0, kms_rotations=5)
    for usage in (Usage(), odd):
        for contacts in (0, 1, *SIZES, 10_000_000):
            lines = monthly(contacts, usage)
            assert set(lines) == set(cost.SERVICES)
            assert all(value >= 0 for value in lines.values()), lines
            assert all(item.quantity >= 0 for item in items(contacts, usage))


def test_ses_is_exactly_emails_per_thousand_times_the_price() -> None:
    for contacts in SIZES:
        emails = contacts * Usage().emails_per_contact
        assert monthly(contacts)[cost.SES] == pytest.approx(emails / 1000 * 0.10)
        assert monthly(contacts)[cost.SES] == pytest.approx(emails * PRICES["ses_email"])
    assert monthly(1_000_000)[cost.SES] == pytest.approx(150.0)


def test_doubling_emails_doubles_ses_and_moves_only_the_lines_that_depend_on_email() -> None:
    base = monthly(100_000)
    doubled = monthly(100_000, Usage(emails_per_contact=3.0))
    assert doubled[cost.SES] == pytest.approx(2 * base[cost.SES])
    for service in (cost.DDB, cost.SQS, cost.LAMBDA, cost.CLOUDWATCH):
        assert doubled[service] > base[service], service
    for service in (cost.EVENTBRIDGE, cost.SCHEDULER):
        assert doubled[service] == pytest.approx(base[service]), service


def test_fixed_costs_amortise_per_thousand_contacts() -> None:
    per_thousand = {n: total(n) / n * 1000 for n in SIZES}
    assert per_thousand[1_000_000] < per_thousand[100_000] < per_thousand[10_000]


def test_an_idle_stack_costs_its_fixed_floor() -> None:
    idle = monthly(0)
    assert idle[cost.SES] == 0
    assert idle[cost.API] == 0
    idle_polls = 4 * 5 * 30 * 24 * 3600 / 20  # contacts, outbox, ses_events, sweep
    assert idle[cost.SQS] == pytest.approx(idle_polls * PRICES["sqs_request"])
    assert idle[cost.KMS] == pytest.approx(1 * PRICES["kms_key_month"])  # the secrets key, also the alarms'

    assert idle[cost.SECRETS] == 0  # one shop + the token key: standard SecureString parameters
    with_secrets_manager = monthly(0, Usage(secret_store="secretsmanager"))[cost.SECRETS]
    assert with_secrets_manager == pytest.approx(2 * PRICES["secret_month"])
    # 30 alarms, the table-throttle one on 2 metrics
    alarms, dashboard, metrics = 31 * 0.10, 3.00, cost.CUSTOM_METRIC_MONTHS * 0.30
    assert idle[cost.CLOUDWATCH] == pytest.approx(alarms + dashboard + metrics, abs=0.01)


def test_dynamodb_request_units_follow_the_measured_shapes() -> None:
    contacts = 1_000_000
    events, emails = 3 * contacts, 1.5 * contacts
    # opens, clicks, bounces, complaints change the contact; a delivery only notes the message
    # (tests/integration/test_ses_events_and_preferences.py records both shapes' calls)
    contact_ses_events = emails * (0.35 + 0.04 + 0.01 + 0.0005)
    deliveries = emails * 1.0
    index = 0.3 * 2  # 30 % of profile writes also write the 2 KB index copy
    assert quantity(contacts, "writes: events applied") == pytest.approx(events * (2 * 1 + 2 * 2 + index))
    assert quantity(contacts, "writes: messages sent") == pytest.approx(emails * (2 * 1 + 2 * 2 + 1 + index))
    assert quantity(contacts, "writes: SES events that change") == pytest.approx(
        contact_ses_events * (2 * 1 + 2 * 2 + 1 + index)
    )
    assert quantity(contacts, "writes: SES deliveries") == pytest.approx(deliveries * 1)
    assert quantity(contacts, "reads: profile GetItem per message") == pytest.approx(emails)
    changes = quantity(contacts, "reads: GetItem per SES event that changes")
    assert changes == pytest.approx(contact_ses_events)


def test_ses_markers_are_stored_only_as_long_as_their_ttl() -> None:
    from comeback.aws.contact_store import MARKER_LIFETIME

    assert cost.MARKER_MONTHS == MARKER_LIFETIME.days / 30 == 3
    short, long = Usage(history_months=3), Usage(history_months=24)
    storage = "storage: table"
    # past the markers' lifetime only activity and messages keep growing the table
    grown = quantity(100_000, storage, long) - quantity(100_000, storage, short)
    per_month_without_markers = (
        100_000
        * (3 * (cost.ACTIVITY_KB + cost.ITEM_OVERHEAD_KB) + 1.5 * (cost.MESSAGE_KB + cost.ITEM_OVERHEAD_KB))
        / cost.KB_PER_GB
    )
    assert grown == pytest.approx(21 * per_month_without_markers)


def test_free_tiers_named_are_applied() -> None:
    assert monthly(1_000_000)[cost.SCHEDULER] == 0
    assert monthly(10_000)[cost.XRAY] == 0  # well under 100k traces a month
    assert monthly(1_000_000)[cost.XRAY] > 0


def test_secrets_follow_shops() -> None:
    assert quantity(10_000, "SecureString parameters:") == 2
    assert quantity(1_000_000, "SecureString parameters:") == 101
    manager = Usage(secret_store="secretsmanager")
    assert quantity(1_000_000, "secrets:", manager) == 101
    fewer_shops = Usage(contacts_per_shop=100_000, secret_store="secretsmanager")
    assert monthly(1_000_000, fewer_shops)[cost.SECRETS] < monthly(1_000_000, manager)[cost.SECRETS]


def test_the_table_has_three_columns_a_total_and_the_price_date() -> None:
    text = table()
    header = text.splitlines()[0]
    assert header == "| Service | 10k contacts | 100k contacts | 1M contacts |"
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert all(row.count("|") == 5 for row in rows)
    assert any(row.startswith("| **Total per month**") for row in rows)
    assert any(row.startswith("| Per 1,000 contacts") for row in rows)
    for service in cost.SERVICES:
        assert any(row.startswith(f"| {service} |") for row in rows)
    assert PRICES_AS_OF in text
    assert f"${total(1_000_000):,.2f}" in text
    assert "\n- " in text  # the assumptions are listed under it


def test_prices_are_dated_and_each_has_a_unit() -> None:
    assert PRICES_AS_OF.startswith("2025-")
    datetime.date.fromisoformat(PRICES_AS_OF)
    assert set(PRICES) == set(cost.UNITS)
    # SSM Parameter Store's standard parameters and standard-throughput calls are free: priced at 0
    assert all(price > 0 for key, price in PRICES.items() if not key.startswith("ssm_"))


def test_usage_is_frozen_and_replaceable() -> None:
    usage = Usage()
    with pytest.raises(dataclasses.FrozenInstanceError):
        usage.emails_per_contact = 2  # type: ignore[misc]
    assert dataclasses.replace(usage, opens_per_email=0).ses_events_per_email == pytest.approx(1.0505)


def test_running_the_module_prints_the_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["cost.py"])
    runpy.run_path(cost.__file__, run_name="__main__")
    assert capsys.readouterr().out.strip() == table()
    monkeypatch.setattr(sys, "argv", ["cost.py", "--detail", "10000"])
    runpy.run_path(cost.__file__, run_name="__main__")
    assert "| SES (outbound email) | emails sent | 15,000.00 | emails | 1.5000 |" in capsys.readouterr().out


# -- the hourly sweep on paper -------------------------------------------------------------------
def test_an_hourly_sweep_reads_its_due_contacts_once_in_pages_of_a_hundred() -> None:
    hour = cost.hourly_sweep(1_000_000, due_share=0.01)
    assert hour.due == pytest.approx(10_000)
    per_shard = 10_000 / cost.DUE_SHARDS  # 1,250 due in each shard: 13 pages of up to 100
    assert hour.query_pages == cost.DUE_SHARDS * 13
    full_page_kb = 100 * cost.MEASURED_DUE_ITEM_BYTES / 1024
    rewards = 10_000 * cost.MEASURED_REWARD_SHARE  # each after a strong GetItem of under 4 KB
    query = hour.query_rru
    assert hour.rru == pytest.approx(query + rewards)
    assert query == pytest.approx(hour.query_pages * math.ceil(full_page_kb / 4) * 0.5)
    assert query <= per_shard * cost.DUE_SHARDS * cost.MEASURED_DUE_ITEM_BYTES / 4096 * 0.5 + hour.query_pages
    tx = cost.MEASURED_TRANSACTION_SHARE  # a 1.2 KB profile is 2 WRU, 4 in a transaction with its note's 2
    per_due = tx * (2 * 2 + 2 * 1) + (1 - tx) * 2 + 2 * 2 + cost.MEASURED_REWARD_SHARE * 2 * 2
    assert hour.wru == pytest.approx(10_000 * per_due)


def test_a_scan_of_the_table_costs_far_more_than_the_due_index() -> None:
    hour = cost.hourly_sweep(1_000_000)
    assert hour.scan_ratio > 50
    assert cost.hourly_sweep(100_000).scan_rru == pytest.approx(hour.scan_rru / 10, rel=0.01)


def test_the_sweep_fans_out_one_invocation_per_shard_and_continues_long_units() -> None:
    usual = cost.hourly_sweep(1_000_000, due_share=0.01)
    assert usual.invocations == 1 + cost.DUE_SHARDS
    assert usual.unit_seconds < cost.SWEEP_TIMEOUT_S - cost.SWEEP_RESERVE_S
    # every contact due at once (a playbook change, a backlog): units run out of time and continue
    backlog = cost.hourly_sweep(10_000_000, due_share=1.0)
    assert backlog.invocations > 1 + cost.DUE_SHARDS
    assert backlog.unit_seconds == cost.SWEEP_TIMEOUT_S - cost.SWEEP_RESERVE_S
    more_shards = cost.hourly_sweep(1_000_000, due_share=0.01, shards=32)
    assert more_shards.unit_seconds < usual.unit_seconds
    assert more_shards.invocations == 33


def test_an_empty_hour_costs_one_empty_page_per_shard() -> None:
    hour = cost.hourly_sweep(0)
    assert hour.due == 0 and hour.wru == 0
    assert hour.rru == hour.query_rru == pytest.approx(cost.DUE_SHARDS * 0.5)
    assert 0 < hour.usd < 0.001


def test_sweep_cost_grows_with_contacts_and_the_table_shows_it() -> None:
    small, large = cost.hourly_sweep(100_000), cost.hourly_sweep(1_000_000)
    assert (
        small.usd < large.usd and small.rru < large.rru and small.lambda_gb_seconds < large.lambda_gb_seconds
    )
    text = cost.sweep_table()
    rows = text.splitlines()
    assert rows[0] == "| Hourly sweep | 100k contacts, 1% due | 1M contacts, 1% due |"
    assert all(row.count("|") == 4 for row in rows)
    assert f"{large.rru:,.1f}" in text
    assert f"${large.usd * 720:,.2f}" in text


def test_running_the_module_with_sweep_prints_the_sweep_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["cost.py", "--sweep"])
    runpy.run_path(cost.__file__, run_name="__main__")
    assert capsys.readouterr().out.strip() == cost.sweep_table()


def test_docs_cost_md_is_the_models_output() -> None:
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "cost.md"
    assert doc.read_text(encoding="utf-8") == cost.document(), (
        "run `python -m bench.cost --doc > docs/cost.md`"
    )


def test_custom_metrics_priced_are_the_ones_the_code_makes() -> None:
    from comeback.app.observability import CLOUDWATCH_METRICS

    series = sum(m.series for m in CLOUDWATCH_METRICS.values())
    assert series == cost.STEADY_METRICS + cost.INCIDENT_METRICS
    (line,) = [i for i in cost.items(100_000) if i.price == "cw_metric_month"]
    assert cost.STEADY_METRICS <= line.quantity < series


def test_every_cloudwatch_metric_is_counted_somewhere_in_the_code() -> None:
    import re
    from pathlib import Path

    from comeback.app.observability import CLOUDWATCH_METRICS

    root = Path(__file__).resolve().parents[2]
    code = "\n".join(
        p.read_text(encoding="utf-8") for d in ("shared", "functions") for p in (root / d).rglob("*.py")
    )
    for name in CLOUDWATCH_METRICS:
        assert re.search(rf'"{name}"', code.replace("observability.py", "")), name


def test_secrets_in_ssm_do_not_grow_with_shops() -> None:
    many = Usage(contacts_per_shop=100)  # as built: Parameter Store
    assert monthly(100_000, many)[cost.SECRETS] == 0
    before = Usage(contacts_per_shop=100, secret_store="secretsmanager")
    assert monthly(100_000, before)[cost.SECRETS] > 400  # 1,000 secrets at $0.40
    assert "1,000 shops" in cost.options_table()


def test_batches_are_full_only_where_the_event_source_waits_to_fill_them() -> None:
    from comeback.app.topology import TOPOLOGY

    for queue in TOPOLOGY.queues:
        if queue.name in cost.FED_ONE_BY_ONE:
            assert queue.batching_window_seconds > 0, queue.name
            assert cost.BATCH[queue.consumer] == queue.batch_size == 10


def test_traces_count_only_the_traced_functions() -> None:
    assert monthly(100_000)[cost.XRAY] == 0  # the sender and the sweep: inside the free 100k
    everything = Usage(traced=("ingest", "contacts", "sender", "ses_events", "sweep", "preferences"))
    assert monthly(100_000, everything)[cost.XRAY] > 1
    assert monthly(100_000, Usage(traced=()))[cost.XRAY] == 0


def test_a_keys_only_due_index_writes_less_and_reads_the_profiles_back() -> None:
    p = cost.projection_writes()
    assert p["keys_only_wru_lower"] <= p["keys_only_wru_upper"] <= p["all_wru"]
    assert p["keys_only_extra_rru"] == pytest.approx(1_000_000 * 0.30 * 0.5)  # 0.5 RRU per due profile
    # not clearly cheaper: ALL is kept (docs/cost.md says why)
    assert (p["all_usd"] - p["keys_only_usd_lower"]) / p["all_usd"] < 0.05
