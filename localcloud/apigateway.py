"""The front door: SAM CLI's own local API Gateway service (the events are exactly those of
`sam local start-api`), with a process-based Lambda runner in place of its Docker one."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from flask import Response
from samcli.lib.providers.provider import Api
from samcli.local.apigw.local_apigw_service import LocalApigwService
from werkzeug.serving import ThreadedWSGIServer

from localcloud.environment import Outcome
from localcloud.pool import FunctionPool, Throttled

# API Gateway's own answer when the function is throttled.
THROTTLED = {
    "statusCode": 429,
    "headers": {"Content-Type": "application/json"},
    "body": json.dumps({"message": "Too Many Requests"}),
}


class FunctionFailed(Exception):
    """The invocation ended in an error; the environment already printed why."""


class ProcessLambdaRunner:
    """What LocalApigwService calls to invoke a function: here, an execution environment."""

    def __init__(self, pools: dict[str, FunctionPool]) -> None:
        self._pools = pools

    def is_debugging(self) -> bool:
        return False

    def invoke(self, function_identifier: str, event: str, stdout: Any = None, **_: Any) -> None:
        pool = self._pools[function_identifier.split("/")[-1]]
        try:
            report = pool.invoke(event.encode())
        except Throttled:
            stdout.write_str(json.dumps(THROTTLED))
            return
        if report.outcome is not Outcome.RESPONSE:
            # API Gateway answers a failed, crashed or timed-out function with 502. (This SAM CLI
            # version answers an error document with 500; its handler for anything else is 502.)
            raise FunctionFailed(f"{function_identifier}: {report.outcome.value}")
        stdout.write_str(report.body.decode())


class _Server(ThreadedWSGIServer):
    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class ApiGateway:
    def __init__(
        self, api: Api, runner: ProcessLambdaRunner, host: str, port: int, control: dict[str, Callable[[], dict[str, Any]]]
    ) -> None:
        service = LocalApigwService(api=api, lambda_runner=runner, port=port, host=host)
        service.create()
        app = service._app  # the Flask app SAM built; we add the local cloud's own controls to it
        assert app is not None
        app.logger.disabled = True  # FunctionFailed is expected; the function's own lines say what happened
        for name, action in control.items():

            def endpoint(action: Callable[[], dict[str, Any]] = action) -> Response:
                return Response(json.dumps(action()), status=200, mimetype="application/json")

            app.add_url_rule(f"/_localcloud/{name}", f"localcloud_{name}", endpoint, methods=["POST"])
        self._server = _Server(host, port, app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
