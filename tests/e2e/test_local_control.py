"""`comeback local serve` never answers a 5xx to what a client sends, however malformed.

The `/_local/*` control endpoints answer 400 with a one-line `{"error": "..."}` for a body they
cannot use; the gateway answers like API Gateway (404 `{"message":"Not Found"}`) for any method or
path no route has; requests broken at the HTTP level get a 4xx, over a raw socket.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comeback.local import server
from tests.e2e.conftest import Client

pytestmark = pytest.mark.e2e

CONTROL_POSTS = sorted(server.CONTROL_POSTS)  # every control POST the runtime answers
FIELDS = ["advance_days", "set", "drain", "timeout", "bus_refusals", "message_id", "type"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["2026-02-01T00:00:00Z", "2026-02-01T00:00:00", "9999-12-31T23:59:59+00:00", "Bounce"])
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), values, max_size=3)
bodies = (
    objects.map(lambda o: json.dumps(o).encode())
    | values.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=40)
    | st.sampled_from([b'{"advance_days": 1e400}', b'{"timeout": -1e400}', b"[" * 500, b"9" * 5000])
)


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(CONTROL_POSTS), body=bodies)
def test_no_control_body_gets_a_server_error(local: Client, path: str, body: bytes) -> None:
    status, answer = local.call("POST", path, body)
    assert status < 500, (path, body, status, answer)
    if status == 400:
        assert isinstance(answer, dict) and set(answer) == {"error"}
        assert isinstance(answer["error"], str) and "\n" not in answer["error"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_local/clock", b"not json"),
        ("/_local/clock", b"\xff\xfe"),
        ("/_local/clock", b"[1, 2]"),
        ("/_local/clock", b'"advance"'),
        ("/_local/clock", b'{"advance_days": "x"}'),
        ("/_local/clock", b'{"advance_days": 1e400}'),
        ("/_local/clock", b'{"advance_days": -1}'),
        ("/_local/clock", b'{"advance_days": 10000000}'),
        ("/_local/clock", b'{"advance_days": true}'),
        ("/_local/clock", b'{"advance_day": 3}'),
        ("/_local/clock", b'{"set": "not a date"}'),
        ("/_local/clock", b'{"set": "2026-02-01T00:00:00"}'),
        ("/_local/clock", b'{"set": "9999-12-31T23:59:59+00:00"}'),
        ("/_local/clock", b'{"set": 12}'),
        ("/_local/clock", b'{"set": "2026-02-01T00:00:00Z", "advance_days": 1}'),
        ("/_local/clock", b'{"advance_days": ' + b"9" * 5000 + b"}"),
        ("/_local/clock", b"[" * 5000),
        ("/_local/sweep", b'{"drain": "yes"}'),
        ("/_local/drain", b'{"timeout": "soon"}'),
        ("/_local/drain", b'{"timeout": 0}'),
        ("/_local/faults", b'{"bus_refusals": -1}'),
        ("/_local/faults", b'{"bus_refusals": 1.5}'),
        ("/_local/ses-event", b"{}"),
        ("/_local/ses-event", b'{"message_id": 1, "type": "Bounce"}'),
        ("/_local/ses-event", b'{"message_id": "m", "type": "Explosion"}'),
    ],
)
def test_an_unusable_control_body_is_a_one_line_400(local: Client, path: str, body: bytes) -> None:
    status, answer = local.call("POST", path, body)
    assert status == 400, answer
    assert set(answer) == {"error"} and "\n" not in answer["error"]


def test_the_usual_control_bodies_still_work(local: Client) -> None:
    assert local.post("/_local/clock", {"advance_days": 1.5})["now"]
    assert local.post("/_local/clock", {"set": "2026-03-01T09:00:00+09:00"})["now"].startswith(
        "2026-03-01T00"
    )
    assert local.post("/_local/drain", {"timeout": 5})["drained"] is True
    assert local.post("/_local/faults", {"bus_refusals": 0}) == {"bus_refusals": 0}
    assert local.post("/_local/sweep", {"drain": False})["now"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "PROPFIND"])
@pytest.mark.parametrize("path", ["/", "/v1/shops/demo/events", "/v1/unsubscribe/x/y", "/nowhere"])
def test_a_request_no_route_has_gets_api_gateways_not_found(local: Client, method: str, path: str) -> None:
    status, answer = local.call(method, path)
    assert (status, answer) == (404, {"message": "Not Found"})


def raw(base: str, request: bytes) -> tuple[int, bytes]:
    """Send bytes as they are, half-close, and read the whole answer: (status, the answer's bytes)."""
    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/"), data[:200]
    return int(data.split(b" ", 2)[1]), data


HEAD = b"Host: local\r\n"


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Content-Length: abc\r\n\r\n{}", 400),
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Content-Length: -5\r\n\r\n{}", 400),
        (
            b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
        ),
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Content-Length: 99999999999\r\n\r\n{}", 413),
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Content-Length: 100\r\n\r\n{}", 400),
        (
            b"POST /_local/clock HTTP/1.1\r\n"
            + HEAD
            + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            200,
        ),
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n", 400),
        (b"POST /_local/clock HTTP/1.1\r\n" + HEAD + b"Transfer-Encoding: gzip\r\n\r\n{}", 400),
        (
            b"POST /_local/clock HTTP/1.1\r\n"
            + HEAD
            + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
            400,
        ),
        (b"GET /_local/health HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (
            b"GET /_local/health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
            431,
        ),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET /v1/unsubscribe/\xff\xfe%ff HTTP/1.1\r\n" + HEAD + b"\r\n", 404),
        (b"GET /_local/contacts/\xff/%fe%00 HTTP/1.1\r\n" + HEAD + b"\r\n", 404),
        (b"GET /\xc3\x28 HTTP/1.1\r\n" + HEAD + b"\r\n", 404),
        (b"GET / HTTP/2.0\r\n" + HEAD + b"\r\n", 400),
        (b"GET / HTTP/1.x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
        (b"BREW /coffee HTTP/1.1\r\n" + HEAD + b"\r\n", 404),
    ],
)
def test_a_malformed_request_gets_a_4xx(local: Client, request_bytes: bytes, expected: int) -> None:
    status, _ = raw(local.base, request_bytes)
    assert status == expected


def test_a_head_request_gets_headers_and_no_body(local: Client) -> None:
    status, data = raw(local.base, b"HEAD /nowhere HTTP/1.1\r\n" + HEAD + b"Connection: close\r\n\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert status == 404 and b"Content-Length: 23" in head and body == b""


def test_the_runtime_still_answers_after_the_malformed_requests(local: Client) -> None:
    answer: Any = local.get("/_local/health")
    assert answer["ok"] is True
