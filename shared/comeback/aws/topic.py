"""An SNS topic the engine publishes to (`comeback.app.tasks.TaskTopic`): the team's new tasks."""

from __future__ import annotations

from typing import Any


class SnsTopic:
    def __init__(self, sns: Any, topic_arn: str) -> None:
        self._sns = sns
        self._arn = topic_arn

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        """One message; its attributes let a subscription filter by shop (`shop_id`) or kind."""
        self._sns.publish(
            TopicArn=self._arn,
            Subject=subject,
            Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
