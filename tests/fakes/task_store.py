"""An in-memory `TaskStore`, for unit tests of the domain (no moto, no sockets).

Same rules as the DynamoDB adapter, under one lock where DynamoDB has conditions: one task per id,
a comment added once and only to an open task, a done task stays done.
tests/integration/test_task_store.py runs the same contract against both.
"""

from __future__ import annotations

import threading
from datetime import datetime

from comeback.domain.tasks import Task, TaskStatus


class InMemoryTaskStore:
    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str, str], Task] = {}
        self._lock = threading.Lock()
        self.creates = 0  # how many times a task was really stored

    def create(self, task: Task) -> Task:
        with self._lock:
            key = (task.shop_id, task.contact_id, task.task_id)
            if key in self._tasks:
                return self._tasks[key]
            self._tasks[key] = task
            self.creates += 1
            return task

    def get(self, shop_id: str, contact_id: str, task_id: str) -> Task | None:
        return self._tasks.get((shop_id, contact_id, task_id))

    def list(self, shop_id: str, status: TaskStatus | None = None) -> list[Task]:
        found = [t for t in self._tasks.values() if t.shop_id == shop_id and status in (None, t.status)]
        return sorted(found, key=lambda t: (t.created_at, t.task_id), reverse=True)

    def _change(
        self, shop_id: str, contact_id: str, task_id: str, allowed: bool, **update: object
    ) -> Task | None:
        with self._lock:
            key = (shop_id, contact_id, task_id)
            task = self._tasks.get(key)
            if task is None or not allowed:
                return task
            self._tasks[key] = task.model_copy(update=update)
            return self._tasks[key]

    def add_comment(self, shop_id: str, contact_id: str, task_id: str, comment: str) -> Task | None:
        task = self.get(shop_id, contact_id, task_id)
        allowed = task is not None and task.status == "open" and task.comment is None
        return self._change(shop_id, contact_id, task_id, allowed, comment=comment)

    def mark_notified(self, shop_id: str, contact_id: str, task_id: str, at: datetime) -> None:
        self._change(shop_id, contact_id, task_id, True, notified_at=at)

    def close(self, shop_id: str, contact_id: str, task_id: str, at: datetime, by: str) -> Task | None:
        task = self.get(shop_id, contact_id, task_id)
        allowed = task is not None and task.status == "open"
        return self._change(shop_id, contact_id, task_id, allowed, status="done", done_at=at, done_by=by)
