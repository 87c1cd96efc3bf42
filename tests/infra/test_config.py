"""The deployment settings read from the CDK context: converted, checked, defaulted like Settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from comeback.app.settings import Settings
from infra.config import DeployConfig
from infra.constructs.functions import log_retention
from tests.infra.helpers import CDK_CONTEXT


def test_cdk_json_context_is_a_valid_configuration_with_the_settings_defaults() -> None:
    config = DeployConfig.model_validate(
        {k: v for k, v in CDK_CONTEXT.items() if k in DeployConfig.model_fields}
    )
    defaults = Settings()
    assert config.ses_max_send_rate == defaults.ses_max_send_rate
    # the default stack keeps the names the settings (and the local runtime) default to
    assert config.configuration_set == defaults.ses_configuration_set
    assert config.due_shards == defaults.due_shards
    assert config.token_key_secret == defaults.token_key_secret
    assert config.shop_secret_prefix == defaults.shop_secret_prefix
    assert config.timezone == "Asia/Tokyo"


def test_another_stack_name_prefixes_every_name_the_functions_look_up() -> None:
    config = DeployConfig.model_validate({"stack_name": "comeback-staging"})
    assert config.configuration_set == "comeback-staging"
    assert config.token_key_secret == "/comeback-staging/unsubscribe-key"
    assert config.shop_secret_prefix == "/comeback-staging/shops/"
    assert DeployConfig.model_validate({"ses_configuration_set": "mine"}).configuration_set == "mine"


def test_traced_functions_default_to_the_sender_and_the_sweep_and_take_a_list_or_none() -> None:
    assert DeployConfig().traced_functions == ("sender", "sweep")
    assert DeployConfig.model_validate({"traced_functions": "ingest, sender"}).traced_functions == (
        "ingest",
        "sender",
    )
    assert DeployConfig.model_validate({"traced_functions": "none"}).traced_functions == ()


def test_values_from_the_command_line_arrive_as_text_and_are_converted() -> None:
    config = DeployConfig.model_validate(
        {"ses_max_send_rate": "50", "log_retention_days": "90", "alarm_email": ""}
    )
    assert config.ses_max_send_rate == 50.0
    assert config.log_retention_days == 90
    assert config.alarm_email is None


@pytest.mark.parametrize(
    "values",
    [
        {"api_domain": "api.example.com"},  # without its certificate
        {"sender_domain": "mail.example.com", "sender_identity_arn": "arn:aws:ses:us-east-1:1:identity/x"},
        {"ses_max_send_rate": "0"},
        {"unknown_key": "x"},
        {"stack_name": "comeback/staging"},  # a name that cannot prefix a queue or a function
        {"ingest_reserved_concurrency": "-1"},
        # the MAIL FROM domain must sit under the sending domain, or SPF does not align
        {"sender_domain": "mail.example.com", "mail_from_domain": "bounce.other.example"},
        {"mail_from_domain": "bounce.mail.example.com"},  # without the sending domain
        {"dmarc_policy": "strict"},
        {"traced_functions": "sender,nobody"},  # a function the topology does not have
    ],
)
def test_inconsistent_context_fails_the_synthesis(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        DeployConfig.model_validate(values)


def test_log_retention_accepts_what_cloudwatch_accepts_only() -> None:
    assert log_retention(30).name == "ONE_MONTH"
    assert log_retention(3653).name == "TEN_YEARS"
    with pytest.raises(ValueError, match="log_retention_days"):
        log_retention(31)
