"""Follow-up tasks for a shop's team: a person should answer this customer (an NPS detractor).

A task is opened by a recipe (`recipes.base.TaskOp`), never twice: its id is a hash of who, which
survey and which answer (`task_id`), and the store creates it only if that id is new. It is open
until someone deals with it: the shop sends `feedback.responded` (naming the task, or the survey),
or an operator runs `comeback tasks done TASK_ID`.

A task carries what the team needs to answer without opening another tool: the score and comment,
and the customer's summary (orders, spend, last order). It lives in the contact's partition, so the
contact's story shows it and an erasure takes it away with everything else; a sparse index by shop
lists a shop's tasks (`TaskStore.list`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from comeback.domain.clock import utc

TaskStatus = Literal["open", "done"]
TaskKind = Literal["detractor"]
STATUSES: tuple[TaskStatus, ...] = ("open", "done")
UtcTime = Annotated[datetime, AfterValidator(utc)]


def task_id(shop_id: str, contact_id: str, survey: str, answer: str) -> str:
    """`task-<20 hex>`: the same for the same answer, whoever asks and however often."""
    digest = hashlib.sha256("\x1f".join(("task", shop_id, contact_id, survey, answer)).encode()).hexdigest()
    return f"task-{digest[:20]}"


class Summary(BaseModel):
    """The customer as the team reads it: what they bought and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    orders_count: int = 0
    total_spent_minor: int = 0
    currency: str | None = None
    last_order_at: str | None = None
    first_order_at: str | None = None


class Task(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    shop_id: str
    contact_id: str
    customer_id: str | None = None
    kind: TaskKind = "detractor"
    status: TaskStatus = "open"
    survey: str = "nps"
    answer: str = Field(description="Which answer of the survey (the NPS email's period).")
    score: Annotated[int, Field(ge=0, le=10)] | None = None
    comment: str | None = None
    summary: Summary = Summary()
    created_at: UtcTime
    done_at: UtcTime | None = None
    done_by: str | None = None  # "feedback.responded", "operator"
    notified_at: UtcTime | None = None

    def view(self) -> dict[str, Any]:
        """What `comeback tasks list --format json` prints of it."""
        return self.model_dump(mode="json")


class TaskStore(Protocol):
    def create(self, task: Task) -> Task:
        """Store the task unless its id exists; either way answer the task as stored."""
        ...

    def get(self, shop_id: str, contact_id: str, task_id: str) -> Task | None: ...

    def list(self, shop_id: str, status: TaskStatus | None = None) -> list[Task]:
        """A shop's tasks, newest first (only those of `status` when given)."""
        ...

    def add_comment(self, shop_id: str, contact_id: str, task_id: str, comment: str) -> Task | None:
        """Add the customer's comment to an open task that has none yet."""
        ...

    def mark_notified(self, shop_id: str, contact_id: str, task_id: str, at: datetime) -> None: ...

    def close(self, shop_id: str, contact_id: str, task_id: str, at: datetime, by: str) -> Task | None:
        """Mark an open task done (a done one stays as it was); None when there is no such task."""
        ...
