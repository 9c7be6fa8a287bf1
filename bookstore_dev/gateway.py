"""A small in-process API Gateway: serves every `Api` route of template.yaml on 127.0.0.1, turns
each HTTP request into the REST proxy event and calls the function's real handler in this
process. The integration tests use it, so orders reach books and payments over real HTTP and
real handlers without anything else running.

Each function gets its own pool of worker threads: one thread plays one execution environment
(one request at a time, its own database connection reused while warm), and a burst of requests
gets several environments, as Lambda scales out."""

from __future__ import annotations

import base64
import importlib
import json
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from bookstore_dev.events import FakeLambdaContext, api_event, path_parameters
from bookstore_dev.template import Route, layer_paths

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class _Environment:
    """One worker thread that runs one invocation at a time, as one execution environment."""

    def __init__(self, name: str) -> None:
        self._work: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def run(self, call: Callable[[], Any]) -> Any:
        done: Future[Any] = Future()
        self._work.put((call, done))
        return done.result()

    def stop(self) -> None:
        self._work.put(None)

    def _loop(self) -> None:
        while (item := self._work.get()) is not None:
            call, done = item
            try:
                done.set_result(call())
            except BaseException as error:  # handed to the caller, who re-raises it
                done.set_exception(error)


class _Environments:
    """A function's environments: an idle one is reused (the most recent first, as Lambda does);
    a new one starts only when all are busy, up to `limit`."""

    def __init__(self, function: str, limit: int) -> None:
        self._function = function
        self._limit = limit
        self._idle: list[_Environment] = []
        self._all: list[_Environment] = []
        self._available = threading.Condition()

    def run(self, call: Callable[[], Any]) -> Any:
        with self._available:
            while not self._idle and len(self._all) >= self._limit:
                self._available.wait()
            if self._idle:
                environment = self._idle.pop()
            else:
                environment = _Environment(f"{self._function}-{len(self._all) + 1}")
                self._all.append(environment)
        try:
            return environment.run(call)
        finally:
            with self._available:
                self._idle.append(environment)
                self._available.notify()

    def stop(self) -> None:
        for environment in self._all:
            environment.stop()


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    response: dict[str, Any]


@dataclass
class Gateway:
    routes: list[Route]
    port: int = 0  # 0: any free port
    environments_per_function: int = 32
    invocations: list[Invocation] = field(default_factory=list)
    # Faults on the way to a function, as a slow network or a crashed function would cause: a
    # function name mapped to a callable that gets the real invocation and decides what to do
    # with it (skip it, run it and then sleep, raise so the connection drops without an answer).
    faults: dict[str, Callable[[Callable[[], dict[str, Any]]], dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # What Lambda puts on sys.path: the function's code (/var/task) and its layers (/opt/python).
        for path in [*{route.code_uri for route in self.routes}, *layer_paths()]:
            if str(path) not in sys.path:
                sys.path.append(str(path))
        self._pools = {route.function: _Environments(route.function, self.environments_per_function) for route in self.routes}
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                gateway._serve(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # a burst of clients connects at once
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), RequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Gateway:
        # Import every handler first, as Lambda runs a function's init before its first request.
        for route in self.routes:
            self.handler(route.function)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for pool in self._pools.values():
            pool.stop()

    def handler(self, function: str) -> Handler:
        """The function's handler, imported on first use (its cold start)."""
        with self._lock:
            if function not in self._handlers:
                route = next(route for route in self.routes if route.function == function)
                module_name, attribute = route.handler.rsplit(".", 1)
                self._handlers[function] = getattr(importlib.import_module(module_name), attribute)
            return self._handlers[function]

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        route = self._match(request.command, url.path)
        if route is None:
            self._reply(request, {"statusCode": 403, "body": json.dumps({"message": "Missing Authentication Token"})})
            return
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length).decode() if length else None
        event = api_event(request.command, route.path, url.path, body=body, headers=dict(request.headers.items()), query=url.query)
        response: dict[str, Any] = self._pools[route.function].run(lambda: self._invoke(route.function, event))
        self._reply(request, response)

    def _invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        def real() -> dict[str, Any]:
            return self.handler(function)(event, FakeLambdaContext(function))

        fault = self.faults.get(function)
        response = fault(real) if fault else real()
        self.invocations.append(Invocation(function, event, response))
        return response

    def _match(self, method: str, path: str) -> Route | None:
        candidates = [route for route in self.routes if route.method == method and path_parameters(route.path, path) is not None]
        # A literal segment wins over a {parameter}, as in API Gateway.
        return min(candidates, key=lambda route: route.path.count("{"), default=None)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
        body = response.get("body") or ""
        payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
        request.send_response(response["statusCode"])
        headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        for name, value in headers.items():
            request.send_header(name, str(value))
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
