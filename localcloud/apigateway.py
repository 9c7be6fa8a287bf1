"""The front door: SAM CLI's own local API Gateway (the events are exactly those of
`sam local start-api`), invoking functions through whatever runs them — the execution
environments of the local cloud, or the in-process runner of the unit tests — with faults, when
any are set, injected around each invocation."""

from __future__ import annotations

import inspect
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

import flask
from flask import Response
from flask.testing import FlaskClient
from werkzeug.serving import ThreadedWSGIServer

from localcloud import samcli
from localcloud.environment import InvocationReport, Outcome
from localcloud.errors import LocalCloudError
from localcloud.faults import Fault
from localcloud.iam import AccessControl
from localcloud.pool import Throttled


def _gateway_answer(status: int, message: str) -> str:
    """An answer API Gateway gives itself, as a Lambda proxy response document."""
    return json.dumps({"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"message": message})})


# When the function is throttled.
THROTTLED = _gateway_answer(429, "Too Many Requests")
# A synchronous invocation's event may not exceed Lambda's 6 MB payload quota.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
TOO_LARGE = _gateway_answer(413, "Request Entity Too Large")

Run = Callable[[str, bytes], InvocationReport]  # function name, event → how the invocation went


class ApiGateway:
    def __init__(
        self,
        api: samcli.Api,
        run: Run,
        control: dict[str, Callable[..., dict[str, Any]]] | None = None,
        access: AccessControl | None = None,
    ) -> None:
        # Function name → the fault injected around its invocations (see localcloud.faults).
        self.faults: dict[str, Fault] = {}
        self._run = run
        self._access = access  # AWS_IAM authorization (None: every route open, as under sam local)
        self.app = samcli.gateway_app(api, self._invoke)
        self.app.before_request(self._refuse_what_api_gateway_would)
        self._head_routes = any("HEAD" in route.methods for route in api.routes)
        for name, action in (control or {}).items():

            def endpoint(action: Callable[..., dict[str, Any]] = action, argument: str | None = None) -> Response:
                if refusal := _control_refusal():
                    return _answer(403, refusal)
                try:
                    result = action() if argument is None else action(argument)
                except LocalCloudError as error:
                    return _answer(error.status, str(error))
                return Response(json.dumps(result), status=200, mimetype="application/json")

            self.app.add_url_rule(f"/_localcloud/{name}", f"localcloud_{name}", endpoint, methods=["POST"])
            if inspect.signature(action).parameters:  # it takes a name (which may hold a slash)
                self.app.add_url_rule(f"/_localcloud/{name}/<path:argument>", f"localcloud_{name}_of", endpoint, methods=["POST"])

    def _refuse_what_api_gateway_would(self) -> Response | None:
        """Requests SAM's service would answer with a 502 of its own: a method no route declares
        (Flask adds HEAD to every GET rule; API Gateway answers 403, as for any unknown method),
        and a text body that is not UTF-8 (SAM cannot put it in the event; the local cloud refuses
        it with 400, where API Gateway's own handling of such bytes is not emulated)."""
        if flask.request.method == "HEAD" and not self._head_routes:
            return _answer(403, "Missing Authentication Token")
        try:
            flask.request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            return _answer(400, "Body is not UTF-8 text")
        return None

    def test_client(self) -> FlaskClient:
        """Requests without a socket (the unit tests have no network)."""
        return self.app.test_client()

    def serve(self, host: str, port: int) -> Server:
        return Server(self.app, host, port, "api-gateway")

    def _invoke(self, function: str, event: bytes) -> bytes:
        if len(event) > PAYLOAD_LIMIT_BYTES:
            return TOO_LARGE.encode()
        if self._access is not None:
            document = json.loads(event)
            refusal, caller = self._access.refusal(function, document)
            if refusal:
                return _gateway_answer(403, refusal).encode()
            if caller is not None:
                # As API Gateway tells an IAM-authorized function who called it.
                identity = document.setdefault("requestContext", {}).setdefault("identity", {})
                identity.update({"accessKey": caller.access_key, "userArn": caller.arn, "caller": caller.arn.rsplit("/", 1)[-1]})
                event = json.dumps(document).encode()

        def invoke() -> InvocationReport:
            return self._run(function, event)

        fault = self.faults.get(function)
        try:
            report = fault(invoke) if fault else invoke()
        except Throttled:
            return THROTTLED.encode()
        if report.outcome is not Outcome.RESPONSE:
            raise samcli.FunctionFailed(f"{function}: {report.outcome.value}")
        return report.body


LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def _control_refusal() -> str:
    """The control routes (recycle, status, schedule) are this machine's operator's: not another
    host's (the API may listen on every interface with --host), and not a web page's — a browser
    sends an Origin header with a cross-site POST, which needs no preflight when it has no body."""
    if flask.request.remote_addr not in LOOPBACK:
        return "The local cloud's control routes answer loopback only"
    if "Origin" in flask.request.headers:
        return "The local cloud's control routes do not answer browsers"
    return ""


def _answer(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, mimetype="application/json")


class NoDelayWsgiServer(ThreadedWSGIServer):
    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class Server:
    """A WSGI app (the gateway, the console) on a TCP port, in a thread of its own."""

    def __init__(self, app: flask.Flask, host: str, port: int, name: str) -> None:
        self._server = NoDelayWsgiServer(host, port, app)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
