"""The edges of the stack: the public API, the schedules, SES, secrets and outputs."""

from __future__ import annotations

import json

from comeback.app.topology import TOPOLOGY
from comeback.cli.operator import Output
from tests.infra.helpers import VARIANT, Synth, flat, function_id, queue_id, ref_id


def test_default_stage_throttles_and_writes_json_access_logs(default: Synth) -> None:
    (stage,) = default.of_type("AWS::ApiGatewayV2::Stage").values()
    props = stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": default.context["throttle_rate"],
        "ThrottlingBurstLimit": default.context["throttle_burst"],
    }
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert log_format["status"] == "$context.status"
    group = default.props(ref_id(props["AccessLogSettings"]["DestinationArn"]))
    assert group["RetentionInDays"] == default.context["log_retention_days"]


def test_access_logs_tell_errors_apart_and_never_log_the_path(default: Synth) -> None:
    (stage,) = default.of_type("AWS::ApiGatewayV2::Stage").values()
    log_format = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    assert log_format["errorMessage"] == "$context.error.message"
    assert log_format["integrationStatus"] == "$context.integrationStatus"
    assert log_format["integrationLatency"] == "$context.integrationLatency"
    assert log_format["responseLatency"] == "$context.responseLatency"
    assert log_format["integrationError"] == "$context.integrationErrorMessage"
    # the path carries tokens (unsubscribe, feedback, score): the route key names the route instead
    assert log_format["routeKey"] == "$context.routeKey"
    assert not [v for v in log_format.values() if "path" in v.lower() or "querystring" in v.lower()]


def test_no_custom_domain_without_context(default: Synth) -> None:
    assert default.of_type("AWS::ApiGatewayV2::DomainName") == {}
    assert default.of_type("AWS::ApiGatewayV2::ApiMapping") == {}


def test_custom_domain_from_context_maps_to_the_default_stage(variant: Synth) -> None:
    ((domain_id, domain),) = variant.of_type("AWS::ApiGatewayV2::DomainName").items()
    props = domain["Properties"]
    assert props["DomainName"] == VARIANT["api_domain"]
    (configuration,) = props["DomainNameConfigurations"]
    assert configuration["CertificateArn"] == VARIANT["certificate_arn"]
    assert configuration["SecurityPolicy"] == "TLS_1_2"
    assert configuration["EndpointType"] == "REGIONAL"
    (mapping,) = variant.of_type("AWS::ApiGatewayV2::ApiMapping").values()
    assert ref_id(mapping["Properties"]["DomainName"]) == domain_id
    (stage,) = variant.of_type("AWS::ApiGatewayV2::Stage").values()
    assert mapping["Properties"]["Stage"] == stage["Properties"]["StageName"] == "$default"
    assert ref_id(mapping["Properties"]["ApiId"]) == ref_id(stage["Properties"]["ApiId"])
    assert variant.template["Outputs"][Output.PUBLIC_BASE_URL]["Value"] == f"https://{VARIANT['api_domain']}"
    assert ref_id(variant.template["Outputs"]["ApiDomainTarget"]["Value"]) == domain_id


def test_schedules_follow_the_timezone_retry_and_keep_failures(default: Synth, variant: Synth) -> None:
    for synth, timezone in ((default, "Asia/Tokyo"), (variant, VARIANT["timezone"])):
        schedules = synth.of_type("AWS::Scheduler::Schedule").values()
        inputs = set()
        for schedule in schedules:
            props = schedule["Properties"]
            assert props["ScheduleExpressionTimezone"] == timezone
            assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
            assert props["State"] == "ENABLED"
            target = props["Target"]
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
            assert ref_id(target["DeadLetterConfig"]["Arn"]) == queue_id(synth, "schedules-dlq")
            inputs.add(target["Input"])
        # the function tells its two jobs apart by the input (functions/sweep/handler.py)
        assert inputs == {'{"schedule": "sweep"}', '{"schedule": "segments"}'}


def _destination(synth: Synth) -> dict:
    (destination,) = synth.of_type("AWS::SES::ConfigurationSetEventDestination").values()
    return destination["Properties"]


def test_ses_publishes_engagement_and_feedback_to_the_default_bus(default: Synth) -> None:
    ((set_id, configuration_set),) = default.of_type("AWS::SES::ConfigurationSet").items()
    assert configuration_set["Properties"]["Name"] == default.context["stack_name"]
    assert configuration_set["Properties"]["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    props = _destination(default)
    assert ref_id(props["ConfigurationSetName"]) == set_id
    event_destination = props["EventDestination"]
    assert event_destination["Enabled"] is True
    types = {t.upper() for t in event_destination["MatchingEventTypes"]}
    assert types >= {"BOUNCE", "COMPLAINT", "DELIVERY", "OPEN", "CLICK"}
    assert flat(event_destination["EventBridgeDestination"]["EventBusArn"]).endswith(":event-bus/default")


def test_ses_events_reach_the_ses_events_queue_through_the_default_bus_rule(default: Synth) -> None:
    (rule,) = [
        r
        for r in default.of_type("AWS::Events::Rule").values()
        if r["Properties"]["EventBusName"] == "default"
    ]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ses"]
    # the default bus is the account's: only this stack's configuration set (test_stages.py)
    assert pattern["detail"] == {"mail": {"tags": {"ses:configuration-set": [default.context["stack_name"]]}}}
    # every event type the configuration set publishes is matched by the rule
    assert {
        "Email Bounced",
        "Email Complaint Received",
        "Email Delivered",
        "Email Opened",
        "Email Clicked",
    } <= set(pattern["detail-type"])
    (target,) = rule["Properties"]["Targets"]
    consumer = next(q for q in TOPOLOGY.queues if q.consumer == "ses_events")
    assert ref_id(target["Arn"]) == queue_id(default, consumer.name)


def test_no_sending_identity_without_context(default: Synth) -> None:
    assert default.of_type("AWS::SES::EmailIdentity") == {}
    assert not any(k.startswith("DkimRecord") for k in default.template["Outputs"])


def test_sender_domain_is_created_with_easy_dkim_and_the_configuration_set(variant: Synth) -> None:
    (identity,) = variant.of_type("AWS::SES::EmailIdentity").values()
    props = identity["Properties"]
    assert props["EmailIdentity"] == VARIANT["sender_domain"]
    assert props["DkimAttributes"] == {"SigningEnabled": True}
    assert props["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    (set_id,) = variant.of_type("AWS::SES::ConfigurationSet")
    assert ref_id(props["ConfigurationSetAttributes"]["ConfigurationSetName"]) == set_id
    outputs = variant.template["Outputs"]
    assert {f"DkimRecord{n}" for n in (1, 2, 3)} <= set(outputs)
    assert "DkimDNSTokenName1" in json.dumps(outputs["DkimRecord1"]["Value"])


def test_the_secrets_key_rotates_and_outlives_the_stack(default: Synth) -> None:
    # the token key and shop secrets are SecureString parameters the operator CLI makes with it
    (key,) = [
        r for r in default.of_type("AWS::KMS::Key").values() if "secrets" in r["Properties"]["Description"]
    ]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_the_stack_outputs_everything_the_operator_cli_reads(default: Synth) -> None:
    outputs = default.template["Outputs"]
    assert {o.value for o in Output} <= set(outputs)
    (key_id,) = [
        k for k, r in default.of_type("AWS::KMS::Key").items() if "secrets" in r["Properties"]["Description"]
    ]
    assert ref_id(outputs[Output.SECRETS_KEY_ARN]["Value"]) == key_id
    assert outputs[Output.SHOP_SECRET_PREFIX]["Value"] == "/comeback/shops/"
    assert outputs[Output.TOKEN_KEY_SECRET]["Value"] == "/comeback/unsubscribe-key"
    assert outputs[Output.PUBLIC_BASE_URL]["Value"]["Fn::GetAtt"][1] == "ApiEndpoint"
    assert ref_id(outputs[Output.TABLE_NAME]["Value"]) == next(iter(default.of_type("AWS::DynamoDB::Table")))


def test_sweep_is_invoked_by_the_schedule_only_and_the_api_functions_by_their_api(default: Synth) -> None:
    permissions = default.of_type("AWS::Lambda::Permission").values()
    callers = {(ref_id(p["Properties"]["FunctionName"]), p["Properties"]["Principal"]) for p in permissions}
    routed = {function_id(default, r.function) for r in TOPOLOGY.routes}
    assert callers == {(f, "apigateway.amazonaws.com") for f in routed}
    for permission in permissions:
        assert ":execute-api:" in flat(permission["Properties"]["SourceArn"])


def test_a_failed_scheduled_sweep_is_not_retried_blindly_but_kept_in_a_queue(default: Synth) -> None:
    (config,) = default.of_type("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert ref_id(props["FunctionName"]) == function_id(default, "sweep")
    assert props["MaximumRetryAttempts"] == 0
    assert props["MaximumEventAgeInSeconds"] == 3600
    failures = queue_id(default, "sweep-invoke-dlq")
    assert ref_id(props["DestinationConfig"]["OnFailure"]["Destination"]) == failures
    queue = default.props(failures)
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    # the role may send there before Lambda checks it does (the config is created after the role)
    assert any("Role" in d for d in config.get("DependsOn", []))


def test_ingest_has_a_reserved_concurrency_so_a_flood_cannot_starve_the_rest(default: Synth) -> None:
    for spec in TOPOLOGY.functions:
        props = default.props(function_id(default, spec.name))
        wanted = 20 if spec.name == "ingest" else None
        assert props.get("ReservedConcurrentExecutions") == wanted, spec.name


def test_a_custom_mail_from_domain_aligns_spf_and_its_records_are_outputs(
    default: Synth, variant: Synth
) -> None:
    (identity,) = variant.of_type("AWS::SES::EmailIdentity").values()
    mail_from = identity["Properties"]["MailFromAttributes"]
    assert mail_from == {
        "MailFromDomain": VARIANT["mail_from_domain"],
        "BehaviorOnMxFailure": "USE_DEFAULT_VALUE",  # never refuse to send while the MX is missing
    }
    outputs = variant.template["Outputs"]
    assert outputs["MailFromMxRecord"]["Value"] == (
        f"{VARIANT['mail_from_domain']} MX 10 feedback-smtp.ap-northeast-1.amazonses.com"
    )
    assert outputs["MailFromSpfRecord"]["Value"] == (
        f'{VARIANT["mail_from_domain"]} TXT "v=spf1 include:amazonses.com ~all"'
    )
    assert "MailFromMxRecord" not in default.template["Outputs"]


def test_click_tracking_uses_the_shop_s_own_domain_over_https_only_when_given(
    default: Synth, variant: Synth
) -> None:
    ((_, configuration_set),) = variant.of_type("AWS::SES::ConfigurationSet").items()
    assert configuration_set["Properties"]["TrackingOptions"] == {
        "CustomRedirectDomain": VARIANT["click_tracking_domain"],
        "HttpsPolicy": "REQUIRE",
    }
    ((_, plain),) = default.of_type("AWS::SES::ConfigurationSet").items()
    assert "TrackingOptions" not in plain["Properties"]


def test_virtual_deliverability_manager_is_an_option(default: Synth, variant: Synth) -> None:
    ((_, configuration_set),) = variant.of_type("AWS::SES::ConfigurationSet").items()
    assert configuration_set["Properties"]["VdmOptions"] == {
        "DashboardOptions": {"EngagementMetrics": "ENABLED"},
        "GuardianOptions": {"OptimizedSharedDelivery": "ENABLED"},
    }
    (account,) = variant.of_type("AWS::SES::VdmAttributes").values()
    assert account["Properties"] == {
        "DashboardAttributes": {"EngagementMetrics": "ENABLED"},
        "GuardianAttributes": {"OptimizedSharedDelivery": "ENABLED"},
    }
    assert default.of_type("AWS::SES::VdmAttributes") == {}
    ((_, plain),) = default.of_type("AWS::SES::ConfigurationSet").items()
    assert "VdmOptions" not in plain["Properties"]


def test_the_dmarc_record_is_an_output_ready_to_paste_as_a_dns_line(
    default: Synth, variant: Synth, imported: Synth
) -> None:
    assert variant.template["Outputs"]["DmarcRecord"]["Value"] == (
        '_dmarc.mail.shop.example.com TXT "v=DMARC1; p=quarantine; '
        'rua=mailto:dmarc@shop.example.com; adkim=r; aspf=r"'
    )
    # an imported domain identity gets its record too; without an identity there is no domain
    assert imported.template["Outputs"]["DmarcRecord"]["Value"] == (
        '_dmarc.news.shop.example.com TXT "v=DMARC1; p=none; adkim=r; aspf=r"'
    )
    assert "DmarcRecord" not in default.template["Outputs"]
