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
    assert config.ses_configuration_set == defaults.ses_configuration_set
    assert config.due_shards == defaults.due_shards
    assert config.token_key_secret == defaults.token_key_secret
    assert config.shop_secret_prefix == defaults.shop_secret_prefix
    assert config.timezone == "Asia/Tokyo"


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
