"""Cohorts by first-order month (the triangle) and by the first order's code or channel."""

import json

from comeback.domain.insight.cohorts import NO_CHANNEL, NO_CODE, UNKNOWN, cohort_report
from comeback.domain.insight.records import CustomerRecord
from tests.unit.insight_shops import COHORT_SHOP, records


def cells(cohort):
    return [(c.months_since, c.eligible, c.active, c.revenue_minor) for c in cohort.cells]


def test_the_triangle_of_a_cohort_of_three():
    report = cohort_report(records(COHORT_SHOP), shop_id="shop")
    assert (report.since, report.until, report.by, report.currency) == ("2026-01", "2026-03", "month", "JPY")
    jan, feb = report.cohorts
    assert (jan.group, jan.customers, feb.group, feb.customers) == ("2026-01", 3, "2026-02", 1)
    # January: all three, then A in February (2000), then X in March (900)
    assert cells(jan) == [(0, 3, 3, 4600), (1, 3, 1, 2000), (2, 3, 1, 900)]
    assert [c.share for c in jan.cells] == [1.0, 1 / 3, 1 / 3]
    assert [c.revenue_per_customer_minor for c in jan.cells] == [4600 / 3, 2000 / 3, 300.0]
    # February has one month fewer: the triangle
    assert cells(feb) == [(0, 1, 1, 500), (1, 1, 1, 1500)]


def test_cohorts_by_the_first_orders_discount_code():
    report = cohort_report(records(COHORT_SHOP), by="code")
    groups = {c.group: c for c in report.cohorts}
    assert list(groups) == ["WELCOME10", NO_CODE, "SPRING"]  # biggest first, then by name
    # A's second order used SPRING: A stays in WELCOME10, its first order's code
    assert cells(groups["WELCOME10"]) == [(0, 2, 2, 1600), (1, 2, 1, 2000), (2, 2, 1, 900)]
    # C started in February: it can only be followed one month so far
    assert cells(groups["SPRING"]) == [(0, 1, 1, 500), (1, 1, 1, 1500)]
    assert cells(groups[NO_CODE]) == [(0, 1, 1, 3000), (1, 1, 0, 0), (2, 1, 0, 0)]


def test_cohorts_by_channel_with_a_first_order_from_before_channels_were_kept():
    before = CustomerRecord("old", 1, {"JPY": 700}, "2026-01-03T00:00:00Z", "2026-01-03T00:00:00Z",
                            {"2026-01": 1}, {"2026-01|JPY": 700}, origin_known=False)  # fmt: skip
    report = cohort_report([*records(COHORT_SHOP), before], by="channel")
    groups = {c.group: c.customers for c in report.cohorts}
    assert groups == {"web": 2, "pos": 1, NO_CHANNEL: 1, UNKNOWN: 1}


def test_a_range_keeps_the_cohorts_that_start_inside_it():
    report = cohort_report(records(COHORT_SHOP), since="2026-02", until="2026-02")
    (feb,) = report.cohorts
    assert (feb.group, cells(feb)) == ("2026-02", [(0, 1, 1, 500)])


def test_to_dict_is_plain_json_and_independent_of_record_order():
    shop = records(COHORT_SHOP)
    answer = cohort_report(shop).to_dict()
    assert json.loads(json.dumps(answer)) == answer
    assert cohort_report(list(reversed(shop))).to_dict() == answer
