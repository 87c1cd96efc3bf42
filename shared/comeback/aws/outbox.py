"""The outbox queue: message requests on their way to the sender."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from comeback.domain.messages import MessageRequest

MAX_BATCH = 10
MAX_DELAY_SECONDS = 900  # SQS's limit; longer delays go through the due index


class Outbox(Protocol):
    def send(self, messages: Sequence[MessageRequest], delay_seconds: int = 0) -> None: ...


class OutboxError(Exception):
    pass


class SqsOutbox:
    def __init__(self, sqs: Any, queue_url: str, attempts: int = 4) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._attempts = attempts

    def send(self, messages: Sequence[MessageRequest], delay_seconds: int = 0) -> None:
        delay = max(0, min(delay_seconds, MAX_DELAY_SECONDS))
        for start in range(0, len(messages), MAX_BATCH):
            pending = {
                str(i): {"Id": str(i), "MessageBody": m.model_dump_json(), "DelaySeconds": delay}
                for i, m in enumerate(messages[start : start + MAX_BATCH])
            }
            for _ in range(self._attempts):
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=list(pending.values()))
                failed = answer.get("Failed", [])
                if any(f.get("SenderFault") for f in failed):
                    raise OutboxError(f"outbox refused a message: {failed[0].get('Message')}")
                pending = {f["Id"]: pending[f["Id"]] for f in failed}
                if not pending:
                    break
            if pending:
                raise OutboxError(f"{len(pending)} messages refused by the outbox queue")
