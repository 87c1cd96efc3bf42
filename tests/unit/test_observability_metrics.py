"""Only the listed counts become CloudWatch metrics; the rest ride along as log fields."""

import json

from comeback.app import observability
from comeback.app.observability import CLOUDWATCH_METRICS, count, metrics


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_an_unlisted_count_is_a_field_of_the_emf_document_not_a_metric(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    assert "EventsRejected" not in CLOUDWATCH_METRICS
    count("EventsAccepted", 2)
    count("EventsRejected", 3)
    metrics.flush_metrics()
    (document,) = emitted(capsys)
    names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert names == ["EventsAccepted"]
    assert document["count_EventsRejected"] == 3
    assert observability.log_counts == {}


def test_a_refusal_is_a_metric_with_its_reason_as_a_dimension(monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    count("ShopRefused", reason="unknown")
    (document,) = emitted(capsys)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Comeback" and directive["Metrics"][0]["Name"] == "ShopRefused"
    assert "reason" in directive["Dimensions"][0] and document["reason"] == "unknown"
