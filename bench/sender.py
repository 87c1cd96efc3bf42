"""The sender in-process: messages/s, SES calls and DynamoDB requests per message."""

from __future__ import annotations

import time
from typing import Any

from bench.support import CallCounter, engine, sqs_event
from comeback.aws import clients as aws
from comeback.domain import playbook
from comeback.domain.events import parse_event
from comeback.domain.messages import MessageRequest


def run(messages: int = 300) -> dict[str, Any]:
    pb = playbook.default()
    with engine() as e:
        store = e.runtime.contacts
        requests = []
        for i in range(messages + 1):
            customer = {"id": f"c-{i}", "email": f"c{i}@example.com"}
            store.apply("demo", parse_event({
                "id": f"u{i}", "type": "customer.updated", "occurred_at": "2025-10-01T00:00:00Z",
                "customer": customer,
                "data": {"first_name": "Hanako", "last_name": "Yamada",
                         "locale": "ja" if i % 3 else "en", "accepts_marketing": True}}), pb)  # fmt: skip
            requests.append(MessageRequest(shop_id="demo", contact_id=f"c-{i}", campaign="reward", step=1,
                                           period="2025-10-01", requested_at=e.clock.now(),
                                           data={"points": 500, "code": "THANKS10"}))  # fmt: skip
        ses_calls = CallCounter()
        aws.client("sesv2", e.settings).meta.events.register("before-call.sesv2", ses_calls)
        e.invoke("sender", sqs_event([requests[0].model_dump_json()], "outbox"))  # warm (cold start)
        e.ddb_calls.reset()
        ses_calls.reset()
        began = time.perf_counter()
        for start in range(1, len(requests), 10):
            e.invoke(
                "sender", sqs_event([r.model_dump_json() for r in requests[start : start + 10]], "outbox")
            )
        seconds = time.perf_counter() - began
        counted = (e.ddb_calls.reads, e.ddb_calls.writes, dict(e.ddb_calls.calls))
        outcomes = e.runtime.messages  # read after counting: checking is not sending
        sent = sum(
            outcomes.get("demo", f"c-{i}", requests[i].key)["status"] == "sent"
            for i in range(1, messages + 1)
        )
        return {
            "messages": messages,
            "sent": sent,
            "messages_per_second_in_process": round(messages / seconds, 1),
            "ses_calls_per_message": round(ses_calls.calls.get("SendEmail", 0) / messages, 3),
            "dynamodb_reads_per_message": round(counted[0] / messages, 3),
            "dynamodb_writes_per_message": round(counted[1] / messages, 3),
            "dynamodb_calls": counted[2],
        }
