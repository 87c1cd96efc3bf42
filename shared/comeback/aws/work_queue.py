"""A queue of JSON units of work (the sweep's shards), on SQS."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from comeback.aws.outbox import MAX_BATCH, OutboxError


class SqsWorkQueue:
    def __init__(self, sqs: Any, queue_url: str, attempts: int = 4) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._attempts = attempts

    def send(self, bodies: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(bodies), MAX_BATCH):
            pending = {
                str(i): {"Id": str(i), "MessageBody": json.dumps(body, sort_keys=True)}
                for i, body in enumerate(bodies[start : start + MAX_BATCH])
            }
            for _ in range(self._attempts):
                answer = self._sqs.send_message_batch(QueueUrl=self._url, Entries=list(pending.values()))
                pending = {f["Id"]: pending[f["Id"]] for f in answer.get("Failed", [])}
                if not pending:
                    break
            if pending:
                raise OutboxError(f"{len(pending)} units of work refused by the queue")
