"""The embedded AWS, in its own process: `python -m comeback.local.emulator_process`.

It runs moto's ThreadedMotoServer (with our fixes applied) beside a tiny read-only HTTP endpoint
for what only the emulator knows and no AWS API tells: the raw emails SES accepted, and how many
messages the queues hold (the local runtime's drain asks that every few milliseconds). The
handlers run in the parent process, so the engine and the emulator use two cores, not one.

It prints `ports <moto> <extension>` once both answer, and exits when its stdin closes, so it
never outlives the runtime that started it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCOUNT = "123456789012"
REGION = "us-east-1"


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
            from moto.sqs.models import sqs_backends

            queues = sqs_backends[ACCOUNT][REGION].queues
            names = parse_qs(url.query).get("names", [""])[0].split(",")
            body = sum(len(queues[name]._messages) for name in names if name in queues)
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


TIMINGS: dict[str, tuple[int, float]] = {}


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
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_20120810."):
            request = BackendRequest(environ)
            status, headers, body = DynamoHandler.dispatch(request, request.raw_url, dict(request.headers))
            return Response(body, status, headers)(environ, start_response)
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


def main() -> int:
    from comeback.local import moto_patches

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_patches.apply()
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
