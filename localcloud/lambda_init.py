"""The init of one execution environment as LocalStack drives it: what LocalStack's Go
`lambda-runtime-init` does inside a Lambda container, done with the local cloud's own execution
environment (the real runtime client against the local cloud's Runtime API, in a process).

LocalStack's executor protocol (localstack/lambda-runtime-init, cmd/localstack/custom_interop.go
and main.go; localstack/services/lambda_/invocation/executor_endpoint.py, 4.14.0):

- once the runtime has initialised, the init POSTs `<LOCALSTACK_RUNTIME_ENDPOINT>/status/
  <LOCALSTACK_RUNTIME_ID>/ready` (or `/error` with the init error);
- LocalStack POSTs `{"invoke-id", "invoked-function-arn", "payload", "trace-id"}` to the init's
  `/invoke`, which answers at once and runs the invocation;
- when it ends, the init POSTs the invocation's log lines (`{"logs": "…"}`) to
  `<endpoint>/invocations/<id>/logs`, then the result to `…/response` or `…/error`.

Standard library only: it runs inside LocalStack's interpreter (Python 3.13, its own venv).
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

from localcloud.environment import ExecutionEnvironment, FunctionSpec, InvocationReport, InvokeRequest, Outcome
from localcloud.net import NoDelayServer, QuietHandler

# What the executor tells LocalStack's process (and so this init): the interpreter of the
# environments (a Python 3.12, as the functions' runtime) and the runtime client's directory.
PYTHON_VARIABLE = "LOCALCLOUD_LAMBDA_PYTHON"
RUNTIME_DIR_VARIABLE = "LOCALCLOUD_LAMBDA_RUNTIME_DIR"
# Lines an environment prints (its function's and the platform's START/END/REPORT).
Output = Callable[[str], None]


class LambdaInit:
    """Starts the environment, reports its status to LocalStack and serves LocalStack's /invoke."""

    def __init__(self, spec: FunctionSpec, runtime_endpoint: str, runtime_id: str, output: Output) -> None:
        self.spec = spec
        self._endpoint = runtime_endpoint.rstrip("/")
        self._runtime_id = runtime_id
        self._output = output
        self._lines: list[str] = []  # since the last invocation's logs were sent, as the Go init collects them
        self._lines_lock = threading.Lock()
        self._environment: ExecutionEnvironment | None = None
        self._stopped = False
        self._lifecycle = threading.Lock()  # a replacement and a stop never interleave
        init = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/invoke":
                    self.answer(404, b"not found", "text/plain")
                    return
                request = json.loads(body)
                # Answered at once; the result goes back through LocalStack's callbacks.
                threading.Thread(target=init._invoke, args=(request,), name=f"{spec.name}-invoke", daemon=True).start()
                self.answer(200, b"OK", "text/plain")

        self._server = NoDelayServer(("127.0.0.1", 0), Handler)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def environment(self) -> ExecutionEnvironment | None:
        """The current execution environment (None before start)."""
        return self._environment

    def start(self) -> None:
        """Starts the runtime and serves /invoke; reports ready, or the init error, to LocalStack."""
        threading.Thread(target=self._server.serve_forever, name=f"{self.spec.name}-init", daemon=True).start()
        self._environment = ExecutionEnvironment(self.spec, 1, self._collect, freeze=False)
        if self._environment.initialized():
            self._post(f"/status/{self._runtime_id}/ready", b"")
            return
        self._post(f"/status/{self._runtime_id}/error", self._environment.init_error())

    def stop(self) -> None:
        with self._lifecycle:
            self._stopped = True
            if self._environment is not None:
                self._environment.kill()
        threading.Thread(target=self._close_server, daemon=True).start()

    def _close_server(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _invoke(self, request: dict[str, Any]) -> None:
        # The runtime may have died while idle (killed, out of memory): this invocation gets a new one.
        environment = self._live_environment()
        invoke = InvokeRequest(request["invoke-id"], request["invoked-function-arn"], request.get("trace-id") or None)
        report = environment.invoke(str(request.get("payload") or "").encode(), invoke)
        # As LocalStack's Go init (the Lambda emulator's code) does, the response waits for the
        # extensions: the invocation ends, END and REPORT belong to its logs, then it is answered.
        environment.complete()
        logs = self._take_lines()  # this invocation's, before a new runtime prints its own
        # A timeout or a crash ended it during the invocation: the next one starts its new runtime now.
        self._live_environment()
        self._post(f"/invocations/{invoke.request_id}/logs", json.dumps({"logs": logs}).encode())
        self._post(f"/invocations/{invoke.request_id}/{_callback(report)}", report.body)

    def _live_environment(self) -> ExecutionEnvironment:
        """The current environment, replaced by a new one if its runtime has ended. LocalStack keeps
        the environment, and the Go init resets a runtime that ended: the next invocation runs in a
        new one (and pays its init)."""
        with self._lifecycle:
            environment = self._environment
            assert environment is not None
            if not environment.alive and not self._stopped:
                environment.kill()  # closes its Runtime API (the process is gone already)
                environment = ExecutionEnvironment(self.spec, environment.number + 1, self._collect, freeze=False)
                self._environment = environment
            return environment

    def _collect(self, line: str) -> None:
        with self._lines_lock:
            self._lines.append(line)
        self._output(line)

    def _take_lines(self) -> str:
        with self._lines_lock:
            lines, self._lines = self._lines, []
        return "".join(f"{line}\n" for line in lines)

    def _post(self, path: str, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 - LocalStack's own endpoint, http on loopback
            self._endpoint + path, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                answer.read()
        except OSError as error:  # LocalStack gone (stopping): nothing is waiting for this any more
            print(f"lambda init {self.spec.name}: {path} not delivered: {error}", file=sys.stderr)


def _callback(report: InvocationReport) -> str:
    # An init that fails at this invocation, a crash, a timeout or a raised error all go to /error,
    # as with the Go init (a body carrying `errorType` counts as an error there too).
    return "response" if report.outcome is Outcome.RESPONSE else "error"
