"""LocalStack's executor protocol as `localcloud.lambda_init` speaks it, against a stand-in for
LocalStack's `/_localstack_lambda/<id>` endpoints (executor_endpoint.py, 4.14.0): what the Go init
does in a LocalStack container, done with the local cloud's execution environments. The real
LocalStack drives it in tests/localstack; here each exchange is checked on its own, faults included."""

from __future__ import annotations

import json
import os
import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from localcloud import packaging
from localcloud.environment import FunctionSpec
from localcloud.lambda_init import LambdaInit
from localcloud.process import wait_until

FUNCTIONS = Path(__file__).resolve().parent / "fixtures" / "functions"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:probe"
Callback = tuple[str, bytes]


class LocalStackEndpoint:
    """Records what the init POSTs under LocalStack's `/_localstack_lambda/<executor id>`."""

    def __init__(self) -> None:
        self.callbacks: queue.SimpleQueue[Callback] = queue.SimpleQueue()
        callbacks = self.callbacks

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                callbacks.put((self.path, self.rfile.read(int(self.headers.get("Content-Length") or 0))))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/_localstack_lambda/executor-1"

    def next(self, timeout_s: float = 30) -> Callback:
        path, body = self.callbacks.get(timeout=timeout_s)
        return path.removeprefix("/_localstack_lambda/executor-1"), body


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return packaging.install(packaging.RUNTIME_REQUIREMENTS, tmp_path_factory.mktemp("runtime"), hashed=True)


@pytest.fixture
def endpoint() -> Iterator[LocalStackEndpoint]:
    stand_in = LocalStackEndpoint()
    yield stand_in
    stand_in.server.shutdown()


@contextmanager
def started(
    handler: str,
    runtime_dir: Path,
    endpoint: LocalStackEndpoint,
    timeout_s: float = 3,
    init_timeout_s: float | None = None,
    code: Path = FUNCTIONS,
) -> Iterator[LambdaInit]:
    spec = FunctionSpec(
        name="probe",
        handler=handler,
        memory_mb=128,
        timeout_s=timeout_s,
        python=packaging.runtime_python(),
        python_path=(code, runtime_dir),
        task_root=code,
        environment={"LOCALSTACK_HOSTNAME": "127.0.0.1", "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout_s))},
        region="us-east-1",
        account_id="000000000000",
        init_timeout_s=init_timeout_s,
    )
    init = LambdaInit(spec, endpoint.url, "executor-1", output=lambda line: None)
    try:
        init.start()
        yield init
    finally:
        init.stop()


def invoke(init: LambdaInit, request_id: str, seconds: float = 0) -> None:
    """LocalStack's POST to the init's /invoke (its InvokeRequest's JSON fields)."""
    payload = json.dumps({"queryStringParameters": {"seconds": str(seconds)}})
    request = {
        "invoke-id": request_id,
        "invoked-function-arn": ARN,
        "payload": payload,
        "trace-id": "Root=1-5e1b4151-5ac6c58f5e3f4d2a9c1b2a3d",
    }
    answer = httpx.post(f"http://127.0.0.1:{init.port}/invoke", json=request, timeout=10)
    # answered at once: the result comes back through the callbacks
    assert (answer.status_code, answer.text) == (200, "OK")


def test_the_init_reports_ready_then_posts_each_invocations_logs_before_its_response(
    runtime_dir: Path, endpoint: LocalStackEndpoint
) -> None:
    # Given an environment started as LocalStack starts one
    with started("slow.handler", runtime_dir, endpoint) as init:
        # Then, its runtime initialised, the init says so
        assert endpoint.next() == ("/status/executor-1/ready", b"")
        # When LocalStack invokes it
        invoke(init, "request-1")
        # Then the invocation's lines come first, under LocalStack's request id (START … REPORT), then its result
        path, body = endpoint.next()
        assert path == "/invocations/request-1/logs"
        logs = json.loads(body)["logs"]
        assert "START RequestId: request-1" in logs
        assert "REPORT RequestId: request-1" in logs
        assert "Init Duration" in logs
        path, body = endpoint.next()
        assert path == "/invocations/request-1/response"
        assert json.loads(body)["statusCode"] == 200


def test_after_a_timeout_the_next_invocation_runs_in_a_new_runtime(runtime_dir: Path, endpoint: LocalStackEndpoint) -> None:
    # Given an environment of a function with a one-second timeout, warm
    with started("slow.handler", runtime_dir, endpoint, timeout_s=1) as init:
        assert endpoint.next()[0] == "/status/executor-1/ready"
        invoke(init, "warm")
        assert endpoint.next()[0] == "/invocations/warm/logs"
        first_pid = json.loads(json.loads(endpoint.next()[1])["body"])["pid"]
        # When an invocation outlasts the timeout
        invoke(init, "too-slow", seconds=5)
        # Then LocalStack gets the timeout as the invocation's error
        assert endpoint.next()[0] == "/invocations/too-slow/logs"
        path, body = endpoint.next()
        assert path == "/invocations/too-slow/error"
        assert "Task timed out after 1.00 seconds" in json.loads(body)["errorMessage"]
        # And the next invocation (LocalStack keeps the environment) succeeds in a new runtime, paying its init
        invoke(init, "after")
        path, body = endpoint.next()
        assert "Init Duration" in json.loads(body)["logs"]
        path, body = endpoint.next()
        assert path == "/invocations/after/response"
        assert json.loads(json.loads(body)["body"])["pid"] != first_pid


def test_a_runtime_killed_while_idle_is_replaced_before_the_next_invocation(runtime_dir: Path, endpoint: LocalStackEndpoint) -> None:
    # Given a warm environment
    with started("slow.handler", runtime_dir, endpoint) as init:
        assert endpoint.next()[0] == "/status/executor-1/ready"
        invoke(init, "warm")
        assert endpoint.next()[0] == "/invocations/warm/logs"
        assert endpoint.next()[0] == "/invocations/warm/response"
        environment = init.environment
        assert environment is not None
        # When its runtime is killed between invocations (kill -9, the OOM killer)
        os.kill(environment.pid, signal.SIGKILL)
        wait_until(lambda: not environment.alive, "the runtime dead", timeout_s=10)
        # Then the next invocation runs in a new runtime, paying its init, and succeeds
        invoke(init, "after-kill")
        path, body = endpoint.next()
        assert path == "/invocations/after-kill/logs"
        assert "Init Duration" in json.loads(body)["logs"]
        path, body = endpoint.next()
        assert path == "/invocations/after-kill/response", body
        assert json.loads(json.loads(body)["body"])["pid"] != environment.pid


def test_an_init_that_fails_is_reported_to_localstack_as_a_status_error(runtime_dir: Path, endpoint: LocalStackEndpoint) -> None:
    # Given a function whose module cannot be imported
    with started("broken.handler", runtime_dir, endpoint):
        # Then LocalStack hears of the failed init, with the runtime's own error
        path, body = endpoint.next()
        assert path == "/status/executor-1/error"
        assert json.loads(body)["errorType"] == "Runtime.ImportModuleError"


def test_an_init_that_outlasts_its_limit_is_reported_as_such_not_as_an_exit(
    runtime_dir: Path, endpoint: LocalStackEndpoint, tmp_path: Path
) -> None:
    # Given a function whose init takes 5 s, and an init limit of 0.5 s (LocalStack's start-up timeout, under a cold-start storm)
    (tmp_path / "slow_init.py").write_text("import time\n\ntime.sleep(5)\n\n\ndef handler(event, context):\n    return {}\n")
    with started("slow_init.handler", runtime_dir, endpoint, init_timeout_s=0.5, code=tmp_path):
        # Then LocalStack hears that the init ran out of time, not that the runtime exited
        path, body = endpoint.next()
        assert path == "/status/executor-1/error"
        assert json.loads(body)["errorMessage"] == "the runtime did not finish its init within 0.5 s"
