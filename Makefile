# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap uv, .venv and every
# dependency themselves; nothing needs to be installed by hand.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
export UV_PYTHON_DOWNLOADS := never
# Bytecode is cached outside the tree (no __pycache__ beside the sources, so the functions' asset
# hashes stay the same), but it is cached: every test starts processes (the runtime, its emulator)
# that would otherwise compile moto, botocore and the package from source each time, seconds apiece.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX := $(CURDIR)/build/pycache
# The CDK CLI, pinned (it must be at least as new as the aws-cdk-lib in uv.lock).
CDK_CLI := aws-cdk@2.1148.1

.PHONY: install browser demo serve test unit integration infra-tests e2e lint format typecheck bench synth deploy bootstrap layer schemas clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet --disable-pip-version-check uv

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

install: .venv/.installed  ## create .venv with every dependency from uv.lock

demo: install  ## run a generated shop through the engine on the embedded AWS and show what it did
	$(RUN) comeback demo

serve: install  ## run the whole engine locally on http://127.0.0.1:8080
	$(RUN) comeback local serve --port 8080

browser:  ## headless Chromium for the browser tests (Debian's package, installed when missing)
	@.ci/ensure-chromium >/dev/null

test: install browser  ## ruff, mypy, then every test layer: unit, integration (moto), infra (CDK + cdk-nag + cfn-lint), e2e
	$(RUN) ruff check .
	$(RUN) mypy
	$(RUN) pytest -n 2 --dist loadfile --no-loadscope-reorder  # two workers (two cores); a file stays on one worker, handed out in collection order: the slowest first (tests/conftest.py)

unit: install
	$(RUN) pytest tests/unit
integration: install
	$(RUN) pytest tests/integration
infra-tests: install
	$(RUN) pytest tests/infra
e2e: install browser
	$(RUN) pytest tests/e2e

lint: install  ## ruff + mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: install
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: install
	$(RUN) mypy

bench: install  ## measure DynamoDB requests per event, throughput, sweep reads, import times
	$(RUN) python -m bench

schemas: install  ## regenerate events/schemas/*.json and events/openapi.json from the models
	$(RUN) comeback schemas write

# The app (cdk.json's "app") brings build/layer up to date itself, so these are what `npx cdk` runs.
synth: install  ## synthesize the CloudFormation template into cdk.out/ (cdk-nag checked; no AWS account needed)
	$(RUN) python -m infra.app

deploy: install  ## deploy to the AWS account of the current credentials (CDK_ARGS="-c key=value ...")
	npx --yes $(CDK_CLI) deploy --require-approval broadening $(CDK_ARGS)

bootstrap:  ## bootstrap the current account/region for the CDK (once per account and region)
	npx --yes $(CDK_CLI) bootstrap

layer: install  ## build the Lambda layer (manylinux aarch64, CPython 3.13 .pyc) into build/layer if stale
	$(RUN) python -m infra.packaging build/layer $(LAYER_ARGS)

clean:
	rm -rf .venv .tools cdk.out build .pytest_cache .ruff_cache .mypy_cache .hypothesis
