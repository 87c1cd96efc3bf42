"""The operator CLI as an operator types it: against `--local URL` with no AWS account, and every
error one clear line with exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def comeback(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # no AWS credentials, region or profile at all: what a laptop without an AWS account has
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BOTO"))}
    clean["AWS_CONFIG_FILE"] = clean["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "comeback.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
        check=False,
    )


def one_error_line(answer: subprocess.CompletedProcess[str]) -> str:
    assert answer.returncode == 2, (answer.returncode, answer.stdout, answer.stderr)
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1, answer.stderr
    assert "Traceback" not in answer.stderr
    return lines[0]


def test_shops_work_against_the_local_runtime_without_any_aws_credentials(local, tmp_path):
    listed = comeback("shops", "--local", local.base, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("demo\tactive")
    created = comeback("shops", "--local", local.base, "create", "cli-shop", "--name", "CLI Shop")
    assert created.returncode == 0, created.stderr
    assert "signing secret:  whsec_" in created.stdout
    assert comeback("shops", "--local", local.base, "rotate-secret", "cli-shop").returncode == 0


def test_a_missing_playbook_file_is_named(local, tmp_path):
    missing = tmp_path / "nowhere.yaml"
    line = one_error_line(
        comeback(
            "shops", "--local", local.base, "create", "s-missing", "--name", "S", "--playbook", str(missing)
        )
    )
    assert str(missing) in line


@pytest.mark.parametrize(
    ("yaml_text", "path"),
    [
        ("winbak:\n  enabled: true\n", "winbak"),
        ("winback:\n  stepz: []\n", "winback.stepz"),
        ("messaging:\n  frequency_cap:\n    max_emails: many\n", "messaging.frequency_cap"),
    ],
)
def test_a_playbook_typo_names_the_key_path(local, tmp_path, yaml_text, path):
    playbook = tmp_path / "playbook.yaml"
    playbook.write_text(yaml_text, encoding="utf-8")
    line = one_error_line(
        comeback(
            "shops", "--local", local.base, "create", "s-typo", "--name", "S", "--playbook", str(playbook)
        )
    )
    assert line.startswith("comeback: error: playbook: ") and path in line, line


def test_a_playbook_that_is_not_yaml_names_the_line(local, tmp_path):
    playbook = tmp_path / "playbook.yaml"
    playbook.write_text("winback:\n  steps: [\n", encoding="utf-8")
    line = one_error_line(
        comeback(
            "shops", "--local", local.base, "create", "s-yaml", "--name", "S", "--playbook", str(playbook)
        )
    )
    assert "not valid YAML" in line and "line" in line


def test_an_unknown_shop_is_one_line(local):
    assert "no-such-shop" in one_error_line(
        comeback("shops", "--local", local.base, "rotate-secret", "no-such-shop")
    )


def test_a_local_runtime_that_does_not_answer_is_one_line():
    assert "cannot reach" in one_error_line(comeback("shops", "--local", "http://127.0.0.1:9", "list"))


def test_the_deployed_stack_without_credentials_says_how_to_give_them():
    line = one_error_line(comeback("shops", "list", env={"AWS_DEFAULT_REGION": "ap-northeast-1"}))
    assert "credentials" in line and "--local" in line


def test_a_serve_playbook_that_does_not_exist_is_one_line(tmp_path):
    line = one_error_line(
        comeback("local", "serve", "--port", "0", "--playbook", f"demo={tmp_path / 'x.yaml'}")
    )
    assert "x.yaml" in line


def test_a_template_that_does_not_exist_is_one_line():
    one_error_line(comeback("templates", "preview", "no-such-campaign"))


def test_the_console_script_is_installed_in_the_venv():
    # README tells people to run `uv run comeback ...` or `.venv/bin/comeback ...`
    script = Path(sys.executable).with_name("comeback")
    assert script.exists(), script
