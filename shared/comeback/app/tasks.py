"""Carrying out what recipes ask of the team's task list: open (once), comment, close.

Opening stores the task on its id (`TaskStore.create`: a second ask answers the stored one); until
the team has been told (`notified_at`), each attempt tells it: an email to the shop's team address
(`shop.team_email`, else the sender's reply-to, else its from address) through the `Mailer`, never
the campaign path, and a message on the stack's SNS topic (when there is one), for whatever the team
follows (a chat channel, a ticketing system, a pager). Then it is announced on the bus as
`task.created` (deterministic id: a repeat is a duplicate consumers drop). A crash before
`mark_notified` tells the team again on the retry rather than never: at least once.

The customer's address goes to the team's email and the SNS message (the team must be able to answer
them), never into the task item or on the bus.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Protocol

from comeback.app.observability import count, logger
from comeback.app.topology import ENGINE_SOURCE
from comeback.aws.bus import BusEntry
from comeback.aws.mailer import Email, Mailer, MailRejected
from comeback.domain.clock import isoformat
from comeback.domain.money import MoneyError, format_money
from comeback.domain.notices import TaskCreated, task_created
from comeback.domain.playbook import Playbook
from comeback.domain.tasks import Task, TaskStore
from comeback.recipes.base import TaskOp

MAIL_TAG = "task"  # no `contact` tag: SES feedback on the team's mail changes no contact


class TaskTopic(Protocol):
    """Where new tasks are published for the team's own tools (SNS in AWS and in the local runtime)."""

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...


def team_address(playbook: Playbook) -> str:
    shop = playbook.shop
    return str(shop.team_email or shop.sender.reply_to or shop.sender.from_email)


def created_notice(task: Task) -> TaskCreated:
    s = task.summary
    return task_created(
        shop_id=task.shop_id,
        contact_id=task.contact_id,
        customer_id=task.customer_id,
        task_id=task.task_id,
        kind=task.kind,
        survey=task.survey,
        score=task.score,
        comment=task.comment,
        orders_count=s.orders_count,
        total_spent_minor=max(0, s.total_spent_minor),
        currency=s.currency,
        last_order_at=s.last_order_at,  # type: ignore[arg-type]
        created_at=task.created_at,
    )


def _money(minor: int, currency: str | None) -> str:
    try:
        return format_money(minor, currency or "")
    except MoneyError:
        return f"{minor} {currency or ''}".strip()


def summary_lines(task: Task, email: str | None) -> list[str]:
    """The task as the team reads it (the email's text, the SNS message's `text`)."""
    s = task.summary
    lines = [
        f"Customer: {task.customer_id or task.contact_id}" + (f" <{email}>" if email else ""),
        f"Score: {task.score}/10 ({task.survey})",
        f"Comment: {task.comment}" if task.comment else "Comment: (none)",
        f"Orders: {s.orders_count}, spent {_money(s.total_spent_minor, s.currency)}",
        f"Last order: {s.last_order_at[:10] if s.last_order_at else '-'}",
        f"Task: {task.task_id} (open since {isoformat(task.created_at)})",
        "",
        "Answer the customer, then close the task: send feedback.responded with this task_id,",
        f"or run: comeback tasks done {task.task_id}",
    ]
    return lines


class TaskDesk:
    def __init__(
        self, store: TaskStore, mailer: Mailer | None = None, topic: TaskTopic | None = None
    ) -> None:
        self._store = store
        self._mailer = mailer
        self._topic = topic

    @property
    def store(self) -> TaskStore:
        return self._store

    def apply(
        self, op: TaskOp, shop_id: str, contact_id: str, playbook: Playbook, now: datetime
    ) -> list[BusEntry]:
        """Carry out one op on the contact's tasks; the bus entries it calls for (`task.created`)."""
        if op.kind == "open" and op.task is not None:
            stored = self._store.create(op.task)
            if stored.notified_at is not None:
                return []  # told already: a redelivery or a repeated sweep
            self._notify(stored, op.email, playbook, now)
            self._store.mark_notified(stored.shop_id, stored.contact_id, stored.task_id, now)
            count("FollowUpTasksOpened")
            notice = created_notice(stored)
            return [BusEntry(ENGINE_SOURCE, notice.DETAIL_TYPE, notice.detail())]
        if op.kind == "comment" and op.comment:
            self._store.add_comment(shop_id, contact_id, op.task_id, op.comment)
        elif op.kind == "close":
            closed = self._store.close(shop_id, contact_id, op.task_id, now, op.by or "engine")
            if closed is not None and closed.done_at == now:
                count("FollowUpTasksClosed")
        return []

    def _notify(self, task: Task, email: str | None, playbook: Playbook, now: datetime) -> None:
        lines = summary_lines(task, email)
        who = task.customer_id or task.contact_id
        subject = f"Follow up: {who} scored {task.score}/10 ({playbook.shop.name})"
        if self._mailer is not None:
            text = "A customer answered the NPS survey as a detractor: someone should answer them.\n\n"
            text += "\n".join(lines) + "\n"
            try:
                self._mailer.send(
                    Email(
                        from_name=playbook.shop.sender.from_name,
                        from_address=str(playbook.shop.sender.from_email),
                        to=team_address(playbook),
                        subject=subject,
                        text=text,
                        html="<pre>" + html.escape(text) + "</pre>",
                        date=now,
                        tags={"shop": task.shop_id, "campaign": MAIL_TAG},
                        reply_to=email,
                    )
                )
            except MailRejected as exc:
                # a team address SES will not take: the SNS topic, the bus and the list still have it
                logger.warning(
                    "team email for a task refused", extra={"task_id": task.task_id, "error": str(exc)}
                )
        if self._topic is not None:
            message = {
                **task.view(),
                "email": email,
                "text": "\n".join(lines),
            }
            self._topic.publish(
                subject[:100],
                json.dumps(message, ensure_ascii=False),
                {"shop_id": task.shop_id, "kind": task.kind},
            )
