"""The public HTTP API: the topology's routes, throttled and access-logged.

Routes come from `Topology.routes`, each to its function through a Lambda proxy integration
(payload 2.0), so a route added to the topology appears here without touching infra. The
`$default` stage throttles every route (rate and burst from context) and writes one JSON access
log line per request. Authentication is the functions' business: shops sign with Standard
Webhooks HMAC signatures, unsubscribe links carry signed tokens; body limits are enforced there too.
With `api_domain` + `certificate_arn` in context the API also answers on that custom domain (point
a CNAME or alias at the `ApiDomainTarget` output).
"""

from __future__ import annotations

import json

import jsii
from aws_cdk import CfnOutput, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_logs as logs
from constructs import Construct

from comeback.app.topology import Route

from .functions import ComebackFunction
from .nag import acknowledge

# One JSON line per request. The route key (`GET /v1/unsubscribe/{token}`), never the path: paths
# carry unsubscribe, feedback and score tokens, which would let anyone reading the logs act as the
# recipient. What on-call needs to tell a function's error from API Gateway's own: the error
# message, the integration's status and latency next to the answer's.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "errorMessage": "$context.error.message",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "userAgent": "$context.identity.userAgent",
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        throttle_rate: int,
        throttle_burst: int,
        log_retention: logs.RetentionDays,
        api_domain: str | None = None,
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=name,
            description="comeback: shop events and unsubscribe links",
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.domain: apigwv2.DomainName | None = None
        domain_mapping = None
        if api_domain and certificate_arn:
            self.domain = apigwv2.DomainName(
                self,
                "Domain",
                domain_name=api_domain,
                certificate=acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn),
                security_policy=apigwv2.SecurityPolicy.TLS_1_2,
            )
            domain_mapping = apigwv2.DomainMappingOptions(domain_name=self.domain)
            target = CfnOutput(
                self,
                "DomainTarget",
                description=f"Point {api_domain} (CNAME or alias) at this regional API Gateway domain",
                value=self.domain.regional_domain_name,
            )
            target.override_logical_id("ApiDomainTarget")
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=throttle_rate, burst_limit=throttle_burst),
            access_log_settings=_AccessLogs(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))),
            ),
            domain_mapping=domain_mapping,
        )
        self.public_base_url = f"https://{api_domain}" if api_domain else self.http_api.api_endpoint
        self._integrations: dict[str, integrations.HttpLambdaIntegration] = {}

    def add_routes(self, routes: tuple[Route, ...], functions: dict[str, ComebackFunction]) -> None:
        for route in routes:
            integration = self._integrations.get(route.function)
            if integration is None:
                integration = integrations.HttpLambdaIntegration(
                    f"{route.function}-integration", functions[route.function].function
                )
                self._integrations[route.function] = integration
            for created in self.http_api.add_routes(
                path=route.path, methods=[apigwv2.HttpMethod(route.method)], integration=integration
            ):
                acknowledge(
                    created,
                    "AwsSolutions-APIG4",
                    "Authorised in the function: shop events carry Standard Webhooks HMAC "
                    "signatures (verified before anything is read), unsubscribe links carry "
                    "signed tokens and must work without a login (RFC 8058 one-click).",
                )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The stage's access log settings (a jsii interface, so a class rather than a dict)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format
