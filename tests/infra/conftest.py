"""Synthesize the stack once per context (jsii starts slowly) and share the templates.

Each synthesis uses the context of cdk.json (what `make deploy` deploys), a tiny stand-in for the
dependency layer (synthesis never builds it) and the overrides of the variant, with cdk-nag on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.helpers import ACCOUNT_REGION, IMPORTED_IDENTITY, STAGING, VARIANT, Synth, synthesize


@pytest.fixture(scope="session")
def layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stand-in for build/layer: the layout Lambda expects (python/...), without the wheels."""
    layer = tmp_path_factory.mktemp("layer")
    package = layer / "python" / "comeback"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""stand-in"""\n', encoding="utf-8")
    return layer


@pytest.fixture(scope="session")
def default(tmp_path_factory: pytest.TempPathFactory, layer_dir: Path) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-default"), layer_dir)


@pytest.fixture(scope="session")
def deployed(tmp_path_factory: pytest.TempPathFactory, layer_dir: Path) -> Synth:
    """What `make deploy` synthesizes: cdk.json's context, bound to an account and region."""
    return synthesize(tmp_path_factory.mktemp("cdk-deployed"), layer_dir, environment=ACCOUNT_REGION)


@pytest.fixture(scope="session")
def variant(tmp_path_factory: pytest.TempPathFactory, layer_dir: Path) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-variant"), layer_dir, VARIANT, environment=ACCOUNT_REGION)


@pytest.fixture(scope="session")
def imported(tmp_path_factory: pytest.TempPathFactory, layer_dir: Path) -> Synth:
    return synthesize(
        tmp_path_factory.mktemp("cdk-imported"), layer_dir, {"sender_identity_arn": IMPORTED_IDENTITY}
    )


@pytest.fixture(scope="session")
def staging(tmp_path_factory: pytest.TempPathFactory, layer_dir: Path) -> Synth:
    """A second stack beside the default one in the same account: `-c stack_name=comeback-staging`."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-staging"), layer_dir, {"stack_name": STAGING, "stage": "staging"}
    )
