"""Two stacks side by side in one account (`-c stack_name=comeback-staging`) share nothing: no
physical name, no IAM resource a role of one may touch in the other, no SES event of the other."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from comeback.app.settings import Settings
from comeback.app.topology import SES_SOURCE
from tests.infra.helpers import STAGING, Synth, as_list, ref_id

# Properties that name something inside another resource, or a resource that is not ours.
NOT_PHYSICAL = {
    ("AWS::ApiGatewayV2::Stage", "StageName"),  # `$default` of its own API
    ("AWS::Events::Rule", "EventBusName"),  # the account's `default` bus, or a Ref to our own
    ("AWS::IAM::Policy", "PolicyName"),  # a policy of one of our roles, named within it
    ("AWS::CloudWatch::Alarm", "MetricName"),  # what it watches (dimensions name our resources)
}


# The one shared resource, by nature: without sender_domain / sender_identity_arn the sender may use
# any identity verified in the account (docs/infrastructure.md says to give each stage its own).
def _shared_by_nature(resource: str) -> bool:
    return ":ses:" in resource and resource.endswith(":identity/*")


def _physical_names(synth: Synth) -> dict[str, str]:
    """Every literal `*Name` property: name -> `Type.Property` (Refs are our own resources anyway)."""
    found = {}
    for resource in synth.resources.values():
        for key, value in resource.get("Properties", {}).items():
            if (
                key.endswith("Name")
                and isinstance(value, str)
                and (resource["Type"], key) not in NOT_PHYSICAL
            ):
                found[value] = f"{resource['Type']}.{key}"
    return found


def _text(value: Any, stack: str) -> str:
    """An IAM resource as text: literals kept, this stack's resources as `<stack:LogicalId>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(p, stack) for p in parts)
    if isinstance(value, dict) and "Ref" in value and str(value["Ref"]).startswith("AWS::"):
        return f"<{value['Ref']}>"  # the partition, region, account: the same for both stacks
    return f"<{stack}:{ref_id(value)}>"


def _iam_resources(synth: Synth) -> set[str]:
    stack = synth.context["stack_name"]
    found = set()
    for policy in synth.of_type("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            for resource in as_list(statement["Resource"]):
                if resource == "*" and all(a.startswith("xray:") for a in actions):
                    continue  # X-Ray accepts no other resource; it touches no stack's data
                found.add(_text(resource, stack))
    return found


def test_every_physical_name_carries_the_stack_name(default: Synth, staging: Synth) -> None:
    for synth in (default, staging):
        stack = synth.context["stack_name"]
        for name, where in _physical_names(synth).items():
            assert stack in name, (where, name)


def test_no_physical_name_is_the_same_in_two_stacks(default: Synth, staging: Synth) -> None:
    shared = set(_physical_names(default)) & set(_physical_names(staging))
    assert shared == set()
    # what the issue found shared: the bus, its archive, the configuration set (the token key is
    # a parameter the operator CLI creates: its path is checked with the IAM resources)
    for kind in ("AWS::Events::EventBus", "AWS::SES::ConfigurationSet"):
        assert [r["Properties"]["Name"] for r in staging.of_type(kind).values()] == [STAGING]
    names = _physical_names(staging)
    assert names[f"{STAGING}-events"] == "AWS::Events::Archive.ArchiveName"


def test_no_iam_resource_of_one_stack_matches_one_of_the_other(default: Synth, staging: Synth) -> None:
    ours, theirs = _iam_resources(default), _iam_resources(staging)
    overlaps = {
        (a, b)
        for a in ours
        for b in theirs
        if (fnmatchcase(a, b) or fnmatchcase(b, a)) and not _shared_by_nature(a)
    }
    assert overlaps == set()
    # the shop secrets are read by parameter path, and the token key by name: each stack's own
    assert any(r.endswith(f":parameter/{STAGING}/shops/*") for r in theirs)
    assert any(r.endswith(f":parameter/{STAGING}/unsubscribe-key") for r in theirs)
    assert not any(":parameter/comeback/" in r for r in theirs)
    assert any(r.endswith(":parameter/comeback/shops/*") for r in ours)


def test_the_functions_are_told_the_stack_s_own_names(staging: Synth) -> None:
    fields = Settings.model_fields
    for function in staging.of_type("AWS::Lambda::Function").values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["COMEBACK_SHOP_SECRET_PREFIX"] == f"/{STAGING}/shops/"
        assert env["COMEBACK_TOKEN_KEY_SECRET"] == f"/{STAGING}/unsubscribe-key"
        assert env["COMEBACK_SES_CONFIGURATION_SET"] == STAGING
        # the names the settings default to (the local runtime's) are not what staging runs with
        for name in ("shop_secret_prefix", "token_key_secret", "ses_configuration_set"):
            assert env[f"COMEBACK_{name.upper()}"] != fields[name].default
    outputs = staging.template["Outputs"]
    assert outputs["ShopSecretPrefix"]["Value"] == f"/{STAGING}/shops/"  # what the operator CLI uses


def test_each_stack_takes_only_the_ses_events_of_its_own_configuration_set(
    default: Synth, staging: Synth
) -> None:
    for synth in (default, staging):
        (rule,) = [
            r["Properties"]
            for r in synth.of_type("AWS::Events::Rule").values()
            if r["Properties"]["EventBusName"] == "default"
        ]
        assert rule["EventPattern"]["source"] == [SES_SOURCE]
        (configuration_set,) = synth.of_type("AWS::SES::ConfigurationSet").values()
        assert rule["EventPattern"]["detail"] == {
            "mail": {"tags": {"ses:configuration-set": [configuration_set["Properties"]["Name"]]}}
        }
