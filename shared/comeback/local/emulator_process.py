"""The embedded AWS, in its own process: `python -m comeback.local.emulator_process`.

It runs moto's ThreadedMotoServer (with our fixes applied) beside a tiny HTTP endpoint
for what only the emulator knows and no AWS API tells: the raw emails SES accepted, and how many
messages the queues hold (the local runtime's drain asks that every few milliseconds). The
handlers run in the parent process, so the engine and the emulator use two cores, not one.

With `--restore FILE` it first loads the moto state a snapshot pickled (`POST /snapshot` writes
one: see `persistence`), so a restored emulator is never provisioned again.

It prints `ports <moto> <extension>` once both answer, and exits when its stdin closes, so it
never outlives the runtime that started it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pickle
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT = "123456789012"
REGION = "us-east-1"


# Actions that change nothing a restore would bring back (a received message is handed out again
# after a restore anyway): they do not make a snapshot due.
READS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "TransactGet", "Receive")


class Gate:
    """Many may pass at once; `closed()` waits until nobody is inside and lets nobody in meanwhile.

    Passing is reentrant per thread (a function that ends up passing again must not wait for a
    snapshot that waits for it)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._inside = 0
        self._closing = False
        self._mine = threading.local()

    @contextlib.contextmanager
    def passing(self) -> Iterator[None]:
        depth = getattr(self._mine, "depth", 0)
        if depth == 0:
            with self._condition:
                while self._closing:
                    self._condition.wait()
                self._inside += 1
        self._mine.depth = depth + 1
        try:
            yield
        finally:
            self._mine.depth = depth
            if depth == 0:
                with self._condition:
                    self._inside -= 1
                    if not self._inside:
                        self._condition.notify_all()

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        with self._condition:
            while self._closing:  # one closer at a time
                self._condition.wait()
            self._closing = True  # newcomers wait from now on, so the closer is never starved
            while self._inside:
                self._condition.wait()
        try:
            yield
        finally:
            with self._condition:
                self._closing = False
                self._condition.notify_all()


def write_atomically(path: Path, data: bytes) -> None:
    """The file has the old content or the new, whatever happens; the new survives a power cut."""
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself
    finally:
        os.close(directory)


# -- inside an emulator process -------------------------------------------------------------------
def dump_backends(path: Path) -> int:
    """Pickle every moto backend this process has used; call with requests held (`Gate.closed`)."""
    from moto.core.base_backend import BackendDict

    state = {
        (backends.backend.__module__, backends.service_name): {
            account: dict(regions) for account, regions in backends.items()
        }
        # the BackendDicts moto has handed out, i.e. the services in use (read off the class:
        # mypy cannot type a class-level list declared with the dict's own type variable)
        for backends in list(vars(BackendDict)["_instances"])
    }
    buffer = io.BytesIO()
    _BackendPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    data = buffer.getvalue()
    write_atomically(path, data)
    return len(data)


def _nested_dict() -> defaultdict[str, dict[str, str]]:
    return defaultdict(dict)


def _subclass_of_defaultdict(
    kind: type[defaultdict[Any, Any]], attributes: dict[str, Any], items: list[Any]
) -> Any:
    made = kind.__new__(kind)
    defaultdict.__init__(made, list)
    made.__dict__.update(attributes)
    made.update(items)
    return made


def _private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key(pem, password=None)


class _BackendPickler(pickle.Pickler):
    """What moto keeps that plain pickle refuses: SSM's tags, a defaultdict made by a lambda, and the
    key material of every KMS key (cryptography's private key objects), kept as PEM; and SSM's
    parameters, a defaultdict(list) whose own __init__ takes other arguments than defaultdict's."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, defaultdict) and type(obj) is not defaultdict and obj.default_factory is list:
            return _subclass_of_defaultdict, (type(obj), dict(vars(obj)), list(obj.items()))
        if isinstance(obj, defaultdict) and getattr(obj.default_factory, "__name__", "") == "<lambda>":
            # moto's only such factory: `defaultdict(lambda: defaultdict(dict))` (resource tags)
            return defaultdict, (_nested_dict, list(obj.items()))
        if type(obj).__module__.startswith("cryptography.") and hasattr(obj, "private_bytes"):
            from cryptography.hazmat.primitives import serialization

            pem = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _private_key, (pem,)
        return NotImplemented


def load_backends(path: Path) -> None:
    """Put the pickled backends back where moto looks for them, before the first request."""
    import importlib

    from moto.core.base_backend import BackendDict

    state = pickle.loads(path.read_bytes())  # noqa: S301 - written by dump_backends on this machine
    for (module_name, service), accounts in state.items():
        module = importlib.import_module(module_name)
        backends = next(
            value
            for value in vars(module).values()
            if isinstance(value, BackendDict) and value.service_name == service
        )
        for account, regions in accounts.items():
            specific = backends[account]  # registers the BackendDict as in use, as moto does
            for region, backend in regions.items():
                specific[region] = backend
    _hand_out_again()


def _hand_out_again() -> None:
    """Messages in flight at the snapshot were held by functions that no longer run: make them
    visible now rather than a visibility timeout later (their receive count stays)."""
    from moto.sqs.models import sqs_backends

    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                for message in queue._pending_messages:
                    message.visible_at = 0.0
                queue._pending_messages.clear()


def _named_queues(query: str) -> list[Any]:
    """The moto queues a `names=a,b` query names (those that exist)."""
    from moto.sqs.models import sqs_backends

    queues = sqs_backends[ACCOUNT][REGION].queues
    names = parse_qs(query).get("names", [""])[0].split(",")
    return [queues[name] for name in names if name in queues]


class Extension(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/sent":
            from moto.ses.models import ses_backends

            body: Any = [
                {"id": m.id, "raw_data": m.raw_data if isinstance(m.raw_data, str) else m.raw_data.decode()}
                for m in ses_backends[ACCOUNT][REGION].sent_messages
            ]
        elif url.path == "/timings":
            body = {
                name: {"calls": calls, "seconds": round(seconds, 3)}
                for name, (calls, seconds) in TIMINGS.items()
            }
        elif url.path == "/queued":
            body = sum(len(queue._messages) for queue in _named_queues(url.query))
        elif url.path == "/depths":
            # what GetQueueAttributes would say of each queue, in one request instead of one per queue
            body = {
                queue.name: {
                    "visible": queue.approximate_number_of_messages,
                    "in_flight": queue.approximate_number_of_messages_not_visible,
                    "delayed": queue.approximate_number_of_messages_delayed,
                }
                for queue in _named_queues(url.query)
            }
        elif url.path == "/changes":
            body = CHANGES[0]
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """POST /snapshot {"path": FILE}: this process's moto state, pickled to FILE atomically."""
        if urlsplit(self.path).path != "/snapshot":
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        target = Path(json.loads(self.rfile.read(length))["path"])
        with REQUESTS.closed():  # no request half applied while moto's objects are pickled
            size = dump_backends(target)
        data = json.dumps({"bytes": size}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


TIMINGS: dict[str, tuple[int, float]] = {}
CHANGES = [0]  # actions served that change state (GET /changes): is a snapshot due?
REQUESTS = Gate()  # every AWS request passes; a snapshot closes it


def _time_actions() -> None:
    """Count and time every AWS action the emulator serves (GET /timings): where local time goes."""
    import time

    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(self)
        finally:
            name = (
                f"{type(self).__name__.removesuffix('Response').removesuffix('Handler')}.{self._get_action()}"
            )
            calls, seconds = TIMINGS.get(name, (0, 0.0))
            TIMINGS[name] = (calls + 1, seconds + time.perf_counter() - began)
            if not self._get_action().startswith(READS):
                CHANGES[0] += 1

    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def _direct_dynamodb(app: Any) -> Any:
    """The moto server's WSGI app, with DynamoDB requests handed straight to moto's DynamoDB handler.

    moto routes every request through a per-service Flask app (routing, request context, CORS)
    before the same `DynamoHandler.dispatch` call; for the engine's busiest service that detour
    was a tenth of the emulator's time. Everything else goes the usual way."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.wrappers import Response

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        with REQUESTS.passing():
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_20120810."):
                request = BackendRequest(environ)
                status, headers, body = DynamoHandler.dispatch(
                    request, request.raw_url, dict(request.headers)
                )
                return Response(body, status, headers)(environ, start_response)
            # moto answers with a list of byte strings: nothing is produced lazily after we leave
            return app(environ, start_response)

    return wsgi


def _serve(port: int = 0) -> tuple[Any, int]:
    """moto's ThreadedMotoServer, minus the thread wrapper: our WSGI app in front of moto's."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = _direct_dynamodb(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def main(argv: list[str] | None = None) -> int:
    from comeback.local import moto_patches

    args = sys.argv[1:] if argv is None else argv
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_patches.apply()
    if args[:1] == ["--restore"]:
        load_backends(Path(args[1]))  # before the first request, so nothing is provisioned twice
    _time_actions()
    server, moto_port = _serve()
    extension = ThreadingHTTPServer(("127.0.0.1", 0), Extension)
    extension.daemon_threads = True
    threading.Thread(target=extension.serve_forever, daemon=True).start()
    print(f"ports {moto_port} {extension.server_address[1]}", flush=True)  # noqa: T201 - read by the parent
    sys.stdin.read()  # returns when the parent closes our stdin (or dies)
    extension.shutdown()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
