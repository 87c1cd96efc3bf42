"""The committed OpenAPI document, fuzzed by schemathesis against `comeback local serve` over HTTP.

Every operation gets schemathesis' coverage phase (boundary values, wrong types, missing bodies,
methods the document does not list) and a fixed number of generated examples, valid and invalid,
derandomized so a run is repeatable. Each answer must be no 5xx, a status the document lists for
the operation, and a content type it lists for that status. A method the document does not list
must get what API Gateway answers: 404 `{"message":"Not Found"}`.

The batch endpoint is fuzzed twice: unsigned (everything stops at the 401) and signed for the demo
shop, so the generated bodies reach the parser and the validation behind the signature.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from comeback.app.signing import signed_headers
from comeback.local.lambdas import REPO_ROOT
from comeback.local.launch import local_serve
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

DEMO_SECRET = "whsec_ZGVtby1zZWNyZXQ="
EXAMPLES_PER_OPERATION = 25
# The coverage phase derives ~1,900 cases from the batch schema alone (a thousand of them one wrong
# type after another): the first few of each scenario, in schemathesis' own (deterministic) order,
# find what the rest would, and keep the module near a minute on two cores.
COVERAGE_CASES_PER_SCENARIO = 12

schema = schemathesis.openapi.from_path(REPO_ROOT / "events" / "openapi.json")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES_PER_OPERATION
)
signed_schema = schema.include(path="/v1/shops/{shop_id}/events")

FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same cases on every run: a failure here is reproducible
    deadline=None,  # a request goes through the emulated AWS; its latency is not the property
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@schemathesis.check
def undocumented_method_is_not_found(ctx: CheckContext, response: Any, case: Case) -> bool | None:
    """A method no route has gets API Gateway's own answer (HTTP APIs have no 405)."""
    if response.request.method.lower() == case.method.lower():
        return None
    assert response.status_code == 404, f"{response.request.method} answered {response.status_code}"
    assert response.json() == {"message": "Not Found"}
    return None


def no_server_error(ctx: CheckContext, response: Any, case: Case) -> bool | None:
    # schemathesis' own not_a_server_error; written out so the property is in the test's words
    assert response.status_code < 500, f"{response.status_code}: {response.content[:300]!r}"
    return None


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    undocumented_method_is_not_found,
]


_coverage_seen: Counter[tuple[str, str, str, str]] = Counter()


def sampled(case: Case, test: str) -> bool:
    """Every generated case, and the first cases of each coverage scenario of each operation."""
    meta = case.meta
    scenario = getattr(meta.phase.data, "scenario", None) if meta else None
    if meta is None or scenario is None:
        return True
    key = (test, case.operation.label, str(scenario), meta.generation.mode.value)
    _coverage_seen[key] += 1
    return _coverage_seen[key] <= COVERAGE_CASES_PER_SCENARIO


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    # No --start: the simulated clock reads the real time, which is also the time a shop signs with.
    with local_serve("--port", str(free_port())) as url:
        yield url


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@schema.parametrize()
@FUZZ
def test_every_answer_is_documented_and_never_a_server_error(
    case: Case, base: str, session: requests.Session
) -> None:
    if not sampled(case, "unsigned"):
        return
    case.call_and_validate(base_url=base, session=session, checks=CHECKS, timeout=60)


@signed_schema.parametrize()
@FUZZ
def test_signed_batches_are_answered_as_documented(case: Case, base: str, session: requests.Session) -> None:
    if not sampled(case, "signed"):
        return
    case.path_parameters = {**(case.path_parameters or {}), "shop_id": "demo"}
    kwargs = case.as_transport_kwargs(base_url=base)
    prepared = session.prepare_request(
        requests.Request(**{k: v for k, v in kwargs.items() if k in REQUEST_FIELDS})
    )
    body = prepared.body or b""
    raw = body.encode() if isinstance(body, str) else body
    prepared.headers.update(signed_headers(DEMO_SECRET, raw, f"msg_{uuid.uuid4().hex}", int(time.time())))
    response = session.send(prepared, timeout=60)
    assert response.status_code != 401, response.text  # the signature is good: the fuzzer got past it
    case.validate_response(response, checks=CHECKS)


REQUEST_FIELDS = {"method", "url", "headers", "params", "data", "json", "files", "cookies"}
