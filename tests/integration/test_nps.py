"""NPS through the real handlers on moto: the sweep asks, the preferences function records a one-click
score, the contacts function applies it, the sweep opens the team's task (SES, SNS, the bus) once,
and a `feedback.responded` closes it."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from email import message_from_string, policy
from typing import Any
from urllib.parse import urlsplit

from tests.integration.test_contacts import apply_events
from tests.integration.test_sweep_and_send import sweep
from tests.support import load_json, order, shop_event

HANA = {"id": "c-77", "email": "hana@example.com"}


def score(engine: Any, url: str, body: str | None = None) -> dict[str, Any]:
    """The API Gateway event of opening a score link (GET), or posting its page's form (POST)."""
    token = urlsplit(url).path.rsplit("/", 1)[1]
    sample = "lambda/preferences-apigw-get.json" if body is None else "lambda/preferences-apigw-post.json"
    event = copy.deepcopy(load_json(sample))
    method = "GET" if body is None else "POST"
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /v1/score/{{token}}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/v1/score/{token}"
    event["pathParameters"] = {"token": token}
    event["rawQueryString"], event["queryStringParameters"] = "", None
    if body is not None:
        event["body"], event["isBase64Encoded"] = body, False
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return engine.invoke("preferences", event)  # type: ignore[no-any-return]


def text_of(sent: Any) -> str:
    mail = message_from_string(sent.raw_data, policy=policy.default)
    return str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]


def detractor_task_opened_and_closed(engine: Any) -> dict[str, Any]:
    now = engine.clock.now()
    profile = {"first_name": "Hana", "locale": "en", "accepts_marketing": True}
    apply_events(
        engine,
        shop_event("customer.updated", id="u-hana", occurred_at=now.isoformat(), customer=HANA, data=profile),
        order("o-hana-1", (now - timedelta(days=1)).isoformat(), HANA),
        order("o-hana-2", now.isoformat(), HANA),
    )
    engine.clock.advance(timedelta(days=14, hours=1))
    sweep(engine)
    engine.deliver("outbox")
    (ask,) = [m for m in engine.sent_emails() if "hana@example.com" in m.destinations]
    links = re.findall(r"^(\d+): (\S+/v1/score/[\w.-]+)", text_of(ask), flags=re.MULTILINE)
    assert [int(n) for n, _ in links] == list(range(11))
    assert score(engine, links[2][1])["statusCode"] == 200
    assert score(engine, links[2][1], "comment=Cold+tea")["statusCode"] == 200
    engine.deliver("contacts")
    engine.clock.advance(timedelta(hours=1))
    sweep(engine)
    sweep(engine)  # a second sweep opens nothing twice
    engine.deliver("outbox")
    (task,) = engine.runtime.tasks.store.list("demo")
    created = [b for b in engine.bus_bodies() if b["detail-type"] == "task.created"]
    apply_events(
        engine,
        shop_event(
            "feedback.responded",
            id="resp-1",
            occurred_at=engine.clock.now().isoformat(),
            customer={"id": HANA["id"]},
            data={"task_id": task.task_id, "by": "Sato"},
        ),
    )
    (closed,) = engine.runtime.tasks.store.list("demo")
    return {"task": task, "closed": closed, "created": created}


def test_a_detractors_score_opens_one_task_announced_once_and_feedback_responded_closes_it(
    engine: Any,
) -> None:
    found = detractor_task_opened_and_closed(engine)
    task, closed, created = found["task"], found["closed"], found["created"]
    assert (task.score, task.comment, task.summary.orders_count) == (2, "Cold tea", 2)
    assert len(created) == 1 and created[0]["detail"]["task_id"] == task.task_id
    assert (closed.status, closed.done_by) == ("done", "feedback.responded")
    # the demo shop names no team address: its sender's is the team's (comeback.app.tasks.team_address)
    team = [m for m in engine.sent_emails() if "hello@shop.example.com" in str(m.destinations)]
    assert len(team) == 1 and task.task_id in text_of(team[0])
    thanks = [m for m in engine.sent_emails() if "hana@example.com" in m.destinations]
    assert len(thanks) == 2  # the ask and the thank-you
