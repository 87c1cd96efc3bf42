"""Unknown shops through the real ingest handler on moto: counted Parameter Store calls (botocore's
own `before-call` events), a 503 with Retry-After when the store fails, and no secret in the logs."""

import json
from collections import Counter
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from comeback.app import runtime as runtimes
from comeback.app.observability import logger
from comeback.app.runtime import Runtime
from comeback.aws import clients as aws
from tests.integration.test_ingest import apigw
from tests.support import DEMO_SECRET, shop_event, signed


@pytest.fixture
def cached(engine):
    """The engine with the deployed cache time (the suite's default of 0 caches nothing)."""
    engine.clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    settings = engine.settings.model_copy(update={"secret_cache_seconds": 300})
    runtimes.install(Runtime(settings, clock=engine.clock, wall_clock=engine.clock))
    yield engine
    runtimes.install(engine.runtime)


@pytest.fixture
def secret_calls(cached):
    calls: Counter[str] = Counter()
    client = aws.client("ssm", runtimes.current().settings)
    client.meta.events.register("before-call.ssm", lambda model, **_: calls.update([model.name]))
    return calls


def _logged(caplog) -> str:
    """Every record with its fields (Powertools writes to the stdout it found at import)."""
    return "\n".join(str(record.__dict__) for record in caplog.records)


def request(engine):
    body = json.dumps({"events": [shop_event("order.placed")]}).encode()
    return body, signed(body, at=int(engine.clock.now().timestamp()))


def test_a_hundred_requests_for_an_unknown_shop_cost_one_parameter_store_call(cached, secret_calls):
    body, headers = request(cached)
    answers = [apigw(cached, body, headers, shop="nobody")["statusCode"] for _ in range(100)]
    assert answers == [401] * 100
    assert secret_calls == {"GetParameter": 1}


def test_ids_of_a_shape_no_shop_has_cost_no_call_and_answer_400(cached, secret_calls):
    body, headers = request(cached)
    for shop in ("Nobody", "no_body", "x" * 70):
        answer = apigw(cached, body, headers, shop=shop)
        assert answer["statusCode"] == 400 and "shop id" in json.loads(answer["body"])["error"]
    assert secret_calls == {}


def test_a_known_shop_still_works_beside_the_refused_ones(cached, secret_calls):
    body, headers = request(cached)
    apigw(cached, body, headers, shop="nobody")
    assert [apigw(cached, body, headers)["statusCode"] for _ in range(3)] == [202] * 3
    assert secret_calls == {"GetParameter": 2}  # one for nobody, one for demo (then cached)


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "InternalServerError",
        "AccessDeniedException",
        "KMSAccessDeniedException",  # the key's grant or policy refused Parameter Store
        "KMSDisabledException",
        "ParameterVersionNotFound",  # anything but ParameterNotFound is no answer, not "no shop"
    ],
)
def test_a_failing_secret_store_answers_503_with_retry_after_and_never_logs_the_secret(
    cached, monkeypatch, caplog, code
):
    client = aws.client("ssm", runtimes.current().settings)

    def fail(**kwargs):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "GetParameter")

    monkeypatch.setattr(client, "get_parameter", fail)
    body, headers = request(cached)
    answer = apigw(cached, body, headers)
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "30"
    assert cached.queue_size("contacts") == 0
    # the store is back: the shop's next try goes through (a failure is not cached as "no shop")
    monkeypatch.undo()
    assert apigw(cached, body, headers)["statusCode"] == 202
    logged = _logged(caplog)
    assert DEMO_SECRET not in logged
    assert code in logged  # the log line says what failed


def test_a_refused_signature_never_logs_the_secret(cached, caplog):
    caplog.set_level("INFO", logger=logger.name)
    body, _ = request(cached)
    wrong = signed(body, secret="whsec_d3Jvbmc=", at=int(cached.clock.now().timestamp()))
    assert apigw(cached, body, wrong)["statusCode"] == 401
    logged = _logged(caplog)
    assert "request refused" in logged
    assert DEMO_SECRET not in logged and "whsec_d3Jvbmc=" not in logged
