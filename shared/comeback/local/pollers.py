"""Queue pollers: what Lambda's SQS event source does, against the emulator.

Receive up to a batch, hand the function a real SQS event, delete what succeeded and make what
failed (`batchItemFailures`, or the whole batch if the function raised) visible again. The queue's
redrive policy moves a message to its DLQ after `max_receive_count` receives. Unlike AWS, a failed
message is retried at once rather than after the visibility timeout, so local runs stay fast.

An empty queue is not polled in a loop: the poller waits on its queue's doorbell, which the runtime
rings whenever anything in this process sends to the queue (or publishes to a bus whose rules feed
it), and looks again at least every `IDLE_SECONDS` for what no call announces (a delay running out).
Polling every 50 ms kept an idle runtime at most of a core.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from comeback.app.observability import logger
from comeback.app.topology import Queue

Invoke = Callable[[dict[str, Any]], Any]
IDLE_SECONDS = 0.5


def sqs_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller(threading.Thread):
    def __init__(
        self,
        sqs: Any,
        queue: Queue,
        url: str,
        arn: str,
        invoke: Invoke,
        region: str,
        bell: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"poller-{queue.name}", daemon=True)
        self._bell = bell or threading.Event()
        self.queue = queue
        self._sqs = sqs
        self._url = url
        self._arn = arn
        self._invoke = invoke
        self._region = region
        self._stopping = threading.Event()
        self._busy = threading.Event()
        self.invocations = 0
        self.failures = 0

    @property
    def busy(self) -> bool:
        return self._busy.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._bell.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._poll_once()
            except Exception:
                if self._stopping.is_set():
                    return  # the emulator went away because the runtime is stopping: not a failure
                logger.exception("local poller failed", extra={"queue": self.queue.name})
                time.sleep(0.5)

    def _poll_once(self) -> None:
        # cleared before looking: a ring while the receive is under way leaves it set, so the
        # wait below returns at once and nothing sent meanwhile waits for the idle timeout
        self._bell.clear()
        answer = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self.queue.batch_size,
            WaitTimeSeconds=0,  # short polls: the emulator serialises SQS requests (moto_patches)
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            self._bell.wait(IDLE_SECONDS)
            return
        self._busy.set()
        try:
            self._deliver(messages)
        finally:
            self._busy.clear()

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        records = [sqs_record(m, self._arn, self._region) for m in messages]
        self.invocations += 1
        try:
            result = self._invoke({"Records": records}) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            logger.exception("local function raised; the whole batch returns to the queue")
            failed = {r["messageId"] for r in records}
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        self.failures += len(retry)
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        if retry:
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(retry)
                ],
            )
