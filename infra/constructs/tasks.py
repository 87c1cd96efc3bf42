"""The SNS topic new follow-up tasks are published to (an NPS detractor for the shop's team).

The sweep opens a task and publishes it here (besides the email to the shop's team address and the
`task.created` bus event): subscribe whatever the team follows (an email list, AWS Chatbot for a
Slack channel, an SQS queue of a ticketing system), with a filter policy on the `shop_id` message
attribute to route one shop's tasks to its own team. Encrypted at rest with the AWS managed key
of SNS (publishers in this account need no key grant), HTTPS only.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class TaskTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=f"{prefix}-tasks",
            display_name=f"{prefix} follow-up tasks",  # the sender name of its e-mails
            master_key=kms.Alias.from_alias_name(self, "Key", "alias/aws/sns"),
            enforce_ssl=True,
        )

    def grant_publish(self, role: iam.IRole) -> None:
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
