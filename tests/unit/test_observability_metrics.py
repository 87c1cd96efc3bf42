"""Only the listed counts become CloudWatch metrics; the rest ride along as log fields."""

import json

import pytest

from comeback.app import observability
from comeback.app.observability import CLOUDWATCH_METRICS, count, metrics


@pytest.fixture(autouse=True)
def no_counts_left_over():
    """Counts another test made in this worker and never flushed would land in this test's document."""
    observability.log_counts.clear()
    yield
    observability.log_counts.clear()


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_an_unlisted_count_is_a_field_of_the_emf_document_not_a_metric(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert "EventsRejected" not in CLOUDWATCH_METRICS
    count("SweepRan")
    count("EventsRejected", 3)
    metrics.flush_metrics()
    (document,) = emitted(capsys)
    names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert names == ["SweepRan"]
    assert document["count_EventsRejected"] == 3
    assert observability.log_counts == {}


def test_a_refusal_is_one_metric_and_its_reason_a_log_field(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    count("ShopRefused", reason="unknown")
    observability.metrics.flush_metrics()
    (document,) = emitted(capsys)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Comeback" and directive["Metrics"][0]["Name"] == "ShopRefused"
    assert "reason" not in directive["Dimensions"][0]  # the alarm watches one series
    assert document["count_ShopRefused_unknown"] == 1
