"""The comeback stack: one construct per concern, wired from the topology (comeback.topology)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from comeback.app.topology import DEFAULT_BUS, Topology, sender_concurrency
from comeback.cli.operator import Output

from .config import DeployConfig
from .constructs.access import SENDS_TO, grant_least_privilege
from .constructs.api import Api
from .constructs.email import Email
from .constructs.events import EventRouting
from .constructs.functions import ComebackFunction, dependency_layer, log_retention
from .constructs.monitoring import Monitoring
from .constructs.queues import Queues
from .constructs.schedules import Schedules
from .constructs.secrets import Secrets
from .constructs.table import Table
from .constructs.tasks import TaskTopic

SENDER = "sender"
INGEST = "ingest"


class ComebackStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeployConfig,
        topology: Topology,
        root: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        prefix = self.stack_name
        retention = log_retention(config.log_retention_days)
        concurrency = sender_concurrency(config.ses_max_send_rate)

        secrets = Secrets(
            self,
            "Secrets",
            token_key_name=config.token_key_secret,
            shop_secret_prefix=config.shop_secret_prefix,
        )
        table = Table(self, "Table", table_name=prefix)
        queues = Queues(self, "Queues", topology=topology, prefix=prefix)
        routing = EventRouting(
            self,
            "Events",
            topology=topology,
            queues=queues,
            prefix=prefix,
            configuration_set=config.configuration_set,
            archive_retention=Duration.days(config.archive_retention_days),
        )
        email = Email(
            self,
            "Email",
            configuration_set_name=config.configuration_set,
            default_bus=routing.buses[DEFAULT_BUS],
            sender_domain=config.sender_domain,
            sender_identity_arn=config.sender_identity_arn,
            mail_from_domain=config.mail_from_domain,
            click_tracking_domain=config.click_tracking_domain,
            vdm=config.vdm,
            vdm_account=config.vdm_account,
            dmarc_policy=config.dmarc_policy,
            dmarc_report_email=config.dmarc_report_email,
        )
        api = Api(
            self,
            "Api",
            name=prefix,
            throttle_rate=config.throttle_rate,
            throttle_burst=config.throttle_burst,
            log_retention=retention,
            api_domain=config.api_domain,
            certificate_arn=config.certificate_arn,
        )

        tasks = TaskTopic(self, "Tasks", prefix=prefix)

        environment = {
            "COMEBACK_TABLE_NAME": table.table_name,
            "COMEBACK_BUS_NAME": routing.bus.event_bus_name,
            "COMEBACK_REGION": self.region,
            "COMEBACK_PUBLIC_BASE_URL": api.public_base_url,
            "COMEBACK_SES_CONFIGURATION_SET": config.configuration_set,
            "COMEBACK_SES_MAX_SEND_RATE": _number(config.ses_max_send_rate),
            "COMEBACK_SENDER_CONCURRENCY": str(concurrency),
            "COMEBACK_DUE_SHARDS": str(config.due_shards),
            "COMEBACK_STAGE": config.stage,
            "COMEBACK_SHOP_SECRET_PREFIX": config.shop_secret_prefix,
            "COMEBACK_TOKEN_KEY_SECRET": config.token_key_secret,
            "COMEBACK_TASK_TOPIC_ARN": tasks.topic.topic_arn,
        }
        layer = dependency_layer(self, "Dependencies", root / config.layer_dir)
        functions = {
            spec.name: ComebackFunction(
                self,
                f"Fn-{spec.name}",
                spec=spec,
                layer=layer,
                environment={
                    **environment,
                    "COMEBACK_QUEUE_URLS": self.to_json_string(
                        {q: queues.queue(q).queue_url for q in SENDS_TO.get(spec.name, ())}
                    ),
                },
                log_retention_days=config.log_retention_days,
                log_level=config.log_level,
                functions_root=root,
                reserved_concurrency=(config.ingest_reserved_concurrency or None)
                if spec.name == INGEST
                else None,
                traced=spec.name in config.traced_functions,
            )
            for spec in topology.functions
        }
        for spec in topology.queues:
            functions[spec.consumer].function.add_event_source(
                sources.SqsEventSource(
                    queues.queue(spec.name),
                    batch_size=spec.batch_size,
                    max_batching_window=Duration.seconds(spec.batching_window_seconds)
                    if spec.batching_window_seconds
                    else None,
                    report_batch_item_failures=True,
                    # all senders together keep to the account's SES send rate
                    max_concurrency=concurrency if spec.consumer == SENDER else None,
                )
            )
        api.add_routes(topology.routes, functions)
        grant_least_privilege(
            functions,
            table=table,
            routing=routing,
            queues=queues,
            secrets=secrets,
            email=email,
            tasks=tasks,
        )
        schedules = Schedules(
            self, "Schedules", topology=topology, functions=functions, timezone=config.timezone, prefix=prefix
        )
        monitoring = Monitoring(
            self,
            "Monitoring",
            prefix=prefix,
            functions=functions,
            dead_letter_queues={
                **queues.dead_letter_queues,
                "event-delivery": routing.delivery_dlq,
                "schedules": schedules.dlq,
                "sweep-invoke": schedules.invoke_failures,
            },
            work_queues={spec.name: queues.queue(spec.name) for spec in topology.queues},
            http_api=api.http_api,
            table=table.table,
            runbook_url=config.runbook_url,
            key=secrets.key,
            api_only=topology.api_only_functions(),
            alarm_email=config.alarm_email,
        )

        outputs = {
            Output.PUBLIC_BASE_URL: (
                api.public_base_url,
                "Base URL of the API (unsubscribe links, shop events)",
            ),
            Output.TABLE_NAME: (table.table_name, "The DynamoDB table"),
            Output.BUS_NAME: (routing.bus.event_bus_name, "The event bus of shop events"),
            Output.REGION: (self.region, "Where the stack runs"),
            Output.SHOP_SECRET_PREFIX: (
                config.shop_secret_prefix,
                "SSM parameter path of the shops' signing secrets (SecureString)",
            ),
            Output.SECRETS_KEY_ARN: (secrets.key.key_arn, "KMS key that encrypts the shop secrets"),
            Output.TOKEN_KEY_SECRET: (
                config.token_key_secret,
                "SSM parameter of the key that signs unsubscribe tokens (made by the first shops create)",
            ),
            Output.SES_CONFIGURATION_SET: (
                config.configuration_set,
                "SES configuration set of every email",
            ),
            Output.STAGE: (config.stage, "Stage name the functions run as"),
        }
        for key, (value, description) in outputs.items():
            CfnOutput(self, key.value, value=value, description=description)
        CfnOutput(
            self, "ExecuteApiUrl", value=api.http_api.api_endpoint, description="The API's own endpoint"
        )
        CfnOutput(
            self,
            "TaskTopicArn",
            value=tasks.topic.topic_arn,
            description="New follow-up tasks are published here",
        )
        CfnOutput(self, "AlarmTopicArn", value=monitoring.topic.topic_arn, description="Alarms are sent here")
        CfnOutput(
            self, "DashboardName", value=monitoring.dashboard.dashboard_name, description="Business metrics"
        )
        self.functions = functions


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
