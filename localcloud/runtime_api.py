"""The Lambda Runtime API (2018-06-01) for one execution environment.

The runtime client inside the environment long-polls `GET /runtime/invocation/next`, posts the
result to `/runtime/invocation/{id}/response` (or `/error`), and reports a failed init to
`/runtime/init/error`. Two traps seen in probes: `awslambdaric` crashes if a `/next` answer has
no `Content-Type`, and without TCP_NODELAY every invocation pays ~40 ms of Nagle delay.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.extensions_api import EXTENSION_PREFIX, TELEMETRY_PATH, ApiError, Extensions
from localcloud.net import NoDelayServer, QuietHandler

PREFIX = "/2018-06-01/runtime"
# Every answer has one: the runtime client segfaults on a /next answer without a Content-Type.
JSON = "application/json"


@dataclass(frozen=True)
class Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str | None = None  # X-Ray's header, when the caller gave one (LocalStack does)


@dataclass(frozen=True)
class Result:
    request_id: str
    body: bytes
    error_type: str | None  # None for a response, the error type for /error
    at: float = 0.0  # time.monotonic() when the runtime posted it


class RuntimeApi:
    """Serves one environment: the runtime's API and, on the same host, the Extensions and
    Telemetry APIs (`extensions`). `on_next` is called each time the runtime asks for work (before
    it blocks), which is where the environment gets frozen; `next_invocation` hands it an event."""

    def __init__(self, on_next: Callable[[], None], extensions: Extensions) -> None:
        self._invocations: queue.SimpleQueue[Invocation | None] = queue.SimpleQueue()
        self.results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self.init_error: dict[str, Any] | None = None
        self._on_next = on_next
        api = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                if self.path == f"{EXTENSION_PREFIX}/event/next":
                    self.extension_call(self.next_event)
                    return
                if self.path != f"{PREFIX}/invocation/next":
                    self.answer(404, b'{"errorType":"NotFound"}', JSON)
                    return
                api._on_next()
                invocation = api._invocations.get()
                if invocation is None:  # shutting down: leave the runtime waiting, it is about to be killed
                    self.close_connection = True
                    return
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                }
                if invocation.trace_id:
                    headers["Lambda-Runtime-Trace-Id"] = invocation.trace_id
                self.answer(200, invocation.payload, JSON, headers)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith(EXTENSION_PREFIX):
                    self.extension_call(lambda: self.extension_post(body))
                    return
                parts = self.path.removeprefix(PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = _json_or_text(body)
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in {"response", "error"}:
                    error_type = self.headers.get("Lambda-Runtime-Function-Error-Type", "Unhandled") if parts[2] == "error" else None
                    api.results.put(Result(parts[1], body, error_type, time.monotonic()))
                else:
                    self.answer(404, b'{"errorType":"NotFound"}', JSON)
                    return
                self.answer(202, b'{"status":"OK"}', JSON)

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != TELEMETRY_PATH:
                    self.answer(404, b'{"errorType":"NotFound"}', JSON)
                    return
                self.extension_call(lambda: self.subscribe(body))

            # --- Extensions and Telemetry APIs: each raises ApiError for an answer that is not 200

            def extension_call(self, call: Callable[[], None]) -> None:
                try:
                    call()
                except ApiError as error:
                    self.answer(error.status, error.body(), JSON)

            def extension_post(self, body: bytes) -> None:
                action = self.path.removeprefix(EXTENSION_PREFIX)
                identifier = self.headers.get("Lambda-Extension-Identifier")
                if action == "/register":
                    name, feature = self.headers.get("Lambda-Extension-Name"), self.headers.get("Lambda-Extension-Accept-Feature")
                    extension, answer = extensions.register(name, body, feature)
                    self.answer(200, answer, JSON, {"Lambda-Extension-Identifier": extension.identifier})
                elif action in {"/init/error", "/exit/error"}:
                    kind = action.split("/")[1]
                    extensions.report_error(identifier, kind, self.headers.get("Lambda-Extension-Function-Error-Type"))
                    self.answer(202, b'{"status":"OK"}', JSON)
                else:
                    self.answer(404, b'{"errorType":"NotFound"}', JSON)

            def next_event(self) -> None:
                event = extensions.next_event(self.headers.get("Lambda-Extension-Identifier"))
                if event is None:  # the environment is going away: leave the extension waiting
                    self.close_connection = True
                    return
                self.answer(200, json.dumps(event).encode(), JSON, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

            def subscribe(self, body: bytes) -> None:
                extension = extensions.known(self.headers.get("Lambda-Extension-Identifier"))
                self.answer(200, extensions.telemetry.subscribe(extension, body), JSON)

        self._server = NoDelayServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._serve, name="runtime-api", daemon=True).start()

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def next_invocation(self, invocation: Invocation) -> None:
        self._invocations.put(invocation)

    def has_pending_invocation(self) -> bool:
        return not self._invocations.empty()

    def close(self) -> None:
        """Stops serving without waiting for it: `shutdown` blocks up to the server's poll interval
        (0.5 s), which a recycle or a stop would otherwise pay once per environment, in turn."""
        self._invocations.put(None)
        threading.Thread(target=self._server.shutdown, name="runtime-api-shutdown", daemon=True).start()

    def _serve(self) -> None:
        self._server.serve_forever()
        self._server.server_close()


def _json_or_text(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {"errorMessage": body.decode(errors="replace")}
    return value if isinstance(value, dict) else {"errorMessage": str(value)}
