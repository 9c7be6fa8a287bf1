"""Telemetry that leaves after the response: an internal Lambda extension in the runtime's process.

Registered through the Extensions API during the init (events: INVOKE; an internal extension may
not ask for SHUTDOWN), it runs in a thread of its own. For each invocation, Lambda hands it INVOKE
as the runtime gets the event; the Lambda instrumentation's end-of-invocation flush only tells it
the invocation's spans have ended (`invocation_ended`); the runtime posts the response, which goes
to the caller at once; the extension then exports spans, metrics and logs and asks for its next
event. Lambda freezes the environment only after that, so nothing is left in a buffer, and the
export's time is `PostRuntimeExtensionsDuration` in REPORT (billed, but not waited for by the caller).

It never holds an invocation beyond its deadline: if the end-of-invocation call never comes (a
handler that is not instrumented), it exports anyway shortly before the invocation's deadline.
Where the Extensions API is missing or refuses it, `register` returns None and the caller flushes
before the response as before. Standard library only (`http.client`): the instrumentations must
not trace the extension's own calls.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bookstore_shared.telemetry.platform_view import PlatformView

_logger = logging.getLogger(__name__)

NAME = "bookstore-telemetry"
SANDBOX_HOST = "sandbox.localdomain"  # where the Telemetry API delivers to, on Lambda
REGISTER_TIMEOUT_S = 1.0
DEADLINE_MARGIN_S = 0.2  # exported this long before the invocation's deadline at the latest


class PostResponseExport:
    def __init__(self, connection: http.client.HTTPConnection, identifier: str, flush: Callable[[int], object]) -> None:
        self._connection = connection
        self._identifier = identifier
        self._flush = flush
        self._ended: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # request ids whose spans ended
        self._current: str | None = None  # the invocation the handler runs now
        self.working = True  # False once the Extensions API has gone away: the caller flushes itself
        threading.Thread(target=self._run, name=NAME, daemon=True).start()

    @classmethod
    def register(
        cls, runtime_api: str, flush: Callable[[int], object], platform_view: PlatformView | None = None
    ) -> PostResponseExport | None:
        """Registers the extension (during the init); None where no Extensions API takes it.
        `flush(timeout_ms)` exports what the invocation left. With `platform_view`, subscribes to
        the Telemetry API's platform events and hands them to it."""
        connection = http.client.HTTPConnection(runtime_api, timeout=REGISTER_TIMEOUT_S)
        body = json.dumps({"events": ["INVOKE"]})
        try:
            connection.request("POST", "/2020-01-01/extension/register", body, {"Lambda-Extension-Name": NAME})
            answer = connection.getresponse()
            answer.read()
            identifier = answer.getheader("Lambda-Extension-Identifier")
        except (OSError, http.client.HTTPException) as error:
            _logger.warning("no Lambda Extensions API (%s): telemetry is flushed before each response", error)
            return None
        if answer.status != 200 or not identifier:
            _logger.warning("the Extensions API refused %s (HTTP %d): telemetry is flushed before each response", NAME, answer.status)
            return None
        if platform_view is not None:
            _subscribe(runtime_api, identifier, platform_view)
        connection.timeout = None  # /event/next waits for the next invocation, however long
        if connection.sock is not None:
            connection.sock.settimeout(None)
        return cls(connection, identifier, flush)

    def invocation_started(self, request_id: str) -> None:
        self._current = request_id

    def invocation_ended(self) -> None:
        """The invocation's spans have ended: export them once the runtime has answered."""
        # None when the invocation was not noted (not a traced one): taken as the current one's end.
        ended, self._current = self._current, None
        self._ended.put(ended)

    def _run(self) -> None:
        while True:
            try:
                event = self._next_event()
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.working = False
                _logger.warning("the Extensions API went away (%s): telemetry is flushed before each response", error)
                return
            if event.get("eventType") != "INVOKE":
                continue
            deadline = int(event.get("deadlineMs", 0)) / 1000 - DEADLINE_MARGIN_S
            self._wait_for_end(str(event.get("requestId")), deadline)
            # Never past the deadline: the export gets what time is left (it resumes after a freeze).
            self._flush(max(0, int((deadline + DEADLINE_MARGIN_S / 2 - time.time()) * 1000)))

    def _wait_for_end(self, request_id: str, deadline: float) -> None:
        """Until the handler says this invocation's spans have ended; a late word about an earlier
        invocation (whose deadline passed first) is not taken for this one's."""
        while True:
            try:
                ended = self._ended.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                _logger.warning("the invocation did not end its telemetry before its deadline: exporting what there is")
                return
            if ended is None or ended == request_id:
                return

    def _next_event(self) -> dict[str, Any]:
        self._connection.request("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": self._identifier})
        answer = self._connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise ValueError(f"event/next answered HTTP {answer.status}: {body[:200]!r}")
        event: dict[str, Any] = json.loads(body)
        return event


def _subscribe(runtime_api: str, identifier: str, platform_view: PlatformView) -> None:
    """Listens for the Telemetry API's batches and subscribes to the platform events. Where the
    API is missing (`sam local`'s emulator answers Telemetry.NotSupported) there is no platform view."""

    class Listener(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # one connection for every batch

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            # Taken before answering: once Lambda has its answer the spans exist (at a shutdown,
            # the SIGTERM that follows exports them)
            with contextlib.suppress(ValueError, TypeError, KeyError):
                events = json.loads(body)
                if isinstance(events, list):
                    platform_view.receive(events)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    try:
        server = ThreadingHTTPServer((SANDBOX_HOST, 0), Listener)
    except OSError:  # the sandbox's name resolves only on Lambda: this machine's loopback elsewhere
        server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{NAME}-telemetry", daemon=True).start()
    subscription = {
        "schemaVersion": "2022-12-13",
        "types": ["platform"],
        # An invocation's spans wait for its platform.report, which comes only when the
        # environment runs again: batching a second of events costs nothing in delay, and each
        # delivery less is CPU the invocations get back (measured on the local cloud)
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 1000},
        "destination": {"protocol": "HTTP", "URI": f"http://{SANDBOX_HOST}:{server.server_address[1]}"},
    }
    connection = http.client.HTTPConnection(runtime_api, timeout=REGISTER_TIMEOUT_S)
    try:
        connection.request("PUT", "/2022-07-01/telemetry", json.dumps(subscription), {"Lambda-Extension-Identifier": identifier})
        answer = connection.getresponse()
        detail = answer.read()[:200]
    except (OSError, http.client.HTTPException) as error:
        answer, detail = None, str(error).encode()
    finally:
        connection.close()
    if answer is None or answer.status != 200:
        _logger.info("no Telemetry API here (%s): no platform spans", detail.decode(errors="replace"))
        server.shutdown()
        server.server_close()
