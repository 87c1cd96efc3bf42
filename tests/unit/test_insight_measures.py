"""Retention measures by month, against a small shop computed by hand (tests/unit/insight_shops.py)."""

import pytest

from comeback.domain.insight.measures import histogram, nice_width, retention_report
from comeback.domain.insight.records import CustomerRecord
from tests.unit.insight_shops import RETENTION_SHOP, placed, records, refunded


def by_month(report):
    return {p.period: p for p in report.periods}


def test_the_default_range_runs_from_the_first_order_to_the_latest_month_with_one():
    report = retention_report(records(RETENTION_SHOP), shop_id="shop")
    assert (report.since, report.until, report.currency, report.period) == (
        "2025-10",
        "2026-03",
        "JPY",
        "month",
    )
    assert [p.period for p in report.periods] == [
        "2025-10",
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
    ]


def test_active_new_and_returning_customers_orders_and_revenue():
    months = by_month(retention_report(records(RETENTION_SHOP), since="2026-01"))
    jan, feb, mar = months["2026-01"], months["2026-02"], months["2026-03"]
    assert (jan.active_customers, jan.new_customers, jan.returning_customers) == (2, 2, 0)
    assert (feb.active_customers, feb.new_customers, feb.returning_customers) == (2, 1, 1)
    assert (mar.active_customers, mar.new_customers, mar.returning_customers) == (2, 0, 2)
    assert (jan.orders, jan.revenue_minor, jan.revenue_new_minor, jan.revenue_returning_minor) == (
        2,
        4000,
        4000,
        0,
    )
    # February: C's first order (500) is new revenue, A's second (2000) returning
    assert (feb.revenue_minor, feb.revenue_new_minor, feb.revenue_returning_minor) == (2500, 500, 2000)
    assert (mar.revenue_new_minor, mar.revenue_returning_minor) == (0, 2500)


def test_a_churn_rate_of_exactly_half():
    months = by_month(retention_report(records(RETENTION_SHOP), since="2026-01"))
    feb, mar = months["2026-02"], months["2026-03"]
    # February starts with January's buyers A and B; A buys again, B does not
    assert (feb.customers_at_start, feb.customers_at_end, feb.retained_customers) == (2, 2, 1)
    assert (feb.retention_rate, feb.churn_rate) == (0.5, 0.5)
    # March starts with A and C; C stays. D comes back after five months: reactivated, not retained
    assert (mar.customers_at_start, mar.retained_customers, mar.reactivated_customers) == (2, 1, 1)
    assert (mar.retention_rate, mar.churn_rate) == (0.5, 0.5)
    # nobody bought in December 2025: January's rates are undefined, not 0 or 100 %
    assert months["2026-01"].customers_at_start == 0
    assert months["2026-01"].retention_rate is None and months["2026-01"].churn_rate is None


def test_a_wider_window_counts_customers_over_the_last_three_months():
    mar = by_month(retention_report(records(RETENTION_SHOP), since="2026-03", window_months=3))["2026-03"]
    # customers at the start: ordered December to February (A, B, C); at the end: January to March
    assert (mar.customers_at_start, mar.customers_at_end, mar.retained_customers) == (3, 4, 3)
    assert (mar.retention_rate, mar.churn_rate) == (1.0, 0.0)
    # the textbook (end - new) / start would say 4/3: D came back from before the window
    assert (mar.customers_at_end - mar.new_customers) / mar.customers_at_start > 1


def test_average_order_value_and_purchase_frequency():
    months = by_month(retention_report(records(RETENTION_SHOP), since="2026-01"))
    assert months["2026-01"].average_order_value_minor == 2000
    assert months["2026-02"].average_order_value_minor == 1250
    assert months["2026-02"].purchase_frequency == 1.0
    two_in_a_month = records(
        [placed("A", 1, "2026-01-01T00:00:00Z", 900), placed("A", 2, "2026-01-02T00:00:00Z", 100)]
    )
    jan = retention_report(two_in_a_month).periods[0]
    assert (jan.orders, jan.active_customers, jan.purchase_frequency, jan.average_order_value_minor) == (
        2,
        1,
        2.0,
        500,
    )


def test_the_repeat_purchase_rate_counts_customers_to_date():
    months = by_month(retention_report(records(RETENTION_SHOP), since="2026-01"))
    # by January: A, B, D have ordered, none twice; February adds C and A's second order
    assert (months["2026-01"].customers_to_date, months["2026-01"].repeat_customers_to_date) == (3, 0)
    assert months["2026-02"].repeat_purchase_rate == 0.25
    assert months["2026-03"].repeat_purchase_rate == 0.75  # A, C and D


def test_a_refund_takes_revenue_off_in_its_own_month():
    shop = records([*RETENTION_SHOP, refunded("A", 1, "2026-03-20T00:00:00Z", 1000)])
    mar = by_month(retention_report(shop, since="2026-03"))["2026-03"]
    assert (mar.revenue_minor, mar.revenue_returning_minor, mar.orders) == (1500, 1500, 2)
    assert mar.average_order_value_minor == 750


def test_historic_clv_average_percentiles_and_histogram():
    clv = retention_report(records(RETENTION_SHOP)).clv
    # A 3000, B 3000, C 2000, D 5000
    assert (clv.customers, clv.total_minor, clv.average_minor) == (4, 13_000, 3250)
    assert clv.percentiles_minor == {
        "p10": 2000,
        "p25": 2000,
        "p50": 3000,
        "p75": 3000,
        "p90": 5000,
        "p99": 5000,
    }
    assert [(b.lower_minor, b.customers) for b in clv.bins if b.customers] == [
        (2000, 1),
        (3000, 2),
        (5000, 1),
    ]
    assert clv.bins[-1].upper_minor is None and sum(b.customers for b in clv.bins) == 4


def test_clv_as_of_an_earlier_month_leaves_later_spend_out():
    clv = retention_report(records(RETENTION_SHOP), until="2026-01").clv
    # A 1000 and B 3000 by January; D's 4000 of October; C had not ordered yet
    assert (clv.customers, clv.total_minor) == (3, 8000)


def test_the_report_does_not_depend_on_the_order_of_the_records():
    shop = records(RETENTION_SHOP)
    assert retention_report(shop).to_dict() == retention_report(list(reversed(shop))).to_dict()


def test_to_dict_is_plain_json():
    import json

    answer = retention_report(records(RETENTION_SHOP), shop_id="shop").to_dict()
    assert json.loads(json.dumps(answer)) == answer
    assert answer["periods"][-1]["period"] == "2026-03" and "bins" in answer["clv"]


def test_a_shop_without_buyers_has_empty_months():
    report = retention_report([], since="2026-01", until="2026-02")
    assert [p.active_customers for p in report.periods] == [0, 0]
    assert report.clv.customers == 0 and report.clv.average_minor is None and report.clv.bins == ()


def test_bad_ranges_are_refused():
    with pytest.raises(ValueError):
        retention_report([], since="2026-03", until="2026-01")
    with pytest.raises(ValueError):
        retention_report([], window_months=0)


def test_bin_widths_are_round_numbers():
    assert [nice_width(span, 9) for span in (9, 50, 5000, 12_345)] == [1, 10, 1000, 2000]
    assert histogram([]) == ()


def test_a_record_from_beyond_the_kept_months_still_counts_its_lifetime_orders():
    # orders of months no longer kept (over profile.MAX_MONTHS) count for "to date", not by month
    old = CustomerRecord("z", 5, {"JPY": 9000}, "2019-01-01T00:00:00Z", "2026-01-01T00:00:00Z",
                         {"2026-01": 1}, {"2026-01|JPY": 1000}, origin_known=False)  # fmt: skip
    jan = retention_report([old], since="2026-01").periods[0]
    assert (jan.active_customers, jan.new_customers, jan.repeat_customers_to_date) == (1, 0, 1)
