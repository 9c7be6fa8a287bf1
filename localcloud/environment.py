"""One Lambda execution environment: a process running the real runtime client against its own
Runtime API, initialised once (the cold start), reused while warm, frozen between invocations."""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Literal

from localcloud.runtime_api import Invocation, Result, RuntimeApi


@dataclass(frozen=True)
class FunctionSpec:
    """What the environment of one function needs, resolved from the template."""

    name: str  # logical id, as `sam local` names it
    handler: str
    memory_mb: int
    timeout_s: float
    python: str  # the interpreter of the runtime (a Python 3.12 with no site-packages)
    python_path: tuple[Path, ...]  # function code, layers, runtime client: what Lambda puts on sys.path
    task_root: Path
    environment: dict[str, str]
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # How long the init may take before the environment is ended; None: Lambda's 10 s plus the
    # function's timeout. LocalStack's executor passes LocalStack's own start-up timeout instead.
    init_timeout_s: float | None = None

    @property
    def init_limit_s(self) -> float:
        return self.init_timeout_s if self.init_timeout_s is not None else 10 + self.timeout_s

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name}"


@dataclass(frozen=True)
class InvokeRequest:
    request_id: str
    function_arn: str
    trace_id: str | None = None


class Outcome(Enum):
    RESPONSE = "response"
    ERROR = "error"  # the handler raised: the environment stays usable
    TIMEOUT = "timeout"  # killed after the function's Timeout
    CRASH = "crash"  # the process died during the invocation
    INIT_ERROR = "init_error"  # the process never got ready (import error, bad settings)


@dataclass(frozen=True)
class InvocationReport:
    request_id: str
    outcome: Outcome
    body: bytes
    duration_ms: float
    init_duration_ms: float | None  # only on the cold start
    max_memory_mb: int

    @property
    def billed_ms(self) -> int:
        # On-demand functions on managed runtimes are billed for init too (since August 2025).
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0.0))


Output = Callable[[str], None]
# initializing: spawned, the runtime not yet at its first /next; busy: an invocation in flight (until
# the runtime asks for the next one); idle: the runtime waits for its next event; frozen: SIGSTOPped.
State = Literal["initializing", "busy", "idle", "frozen"]


class ExecutionEnvironment:
    def __init__(self, spec: FunctionSpec, number: int, output: Output, freeze: bool) -> None:
        self.spec = spec
        self.number = number
        self._output = output
        self._freeze = freeze
        self._api = RuntimeApi(on_next=self._runtime_waits)
        self._ready = threading.Event()
        self._frozen = False
        self._freeze_lock = threading.Lock()  # also keeps the state's flags consistent with each other
        self._waiting = False  # the runtime is at /next
        self._in_flight = False
        self._invoked = False
        self._handed_over = 0  # invocations given to the runtime
        self._dead = False
        self._init_timed_out = False  # the init limit, not an exit or an init error, ended the init
        self._api_closed = False
        self._spawned_at = time.monotonic()
        self._ready_at: float | None = None
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [spec.python, "-S", "-m", "awslambdaric", spec.handler],
            cwd=spec.task_root,
            env=self._environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the cloud, which stops us
        )
        threading.Thread(target=self._copy_output, name=f"{spec.name}-{number}-output", daemon=True).start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    @property
    def state(self) -> State:
        with self._freeze_lock:
            if not self._ready.is_set():
                return "initializing"
            if self._in_flight or not self._waiting:
                return "busy"
            return "frozen" if self._frozen else "idle"

    def initialized(self) -> bool:
        """Waits for the init to end: False, and the environment ended, if it failed."""
        if self._init_ended():
            return True
        self.kill()
        return False

    def _init_ended(self) -> bool:
        """Waits for the runtime's first /next; False if the process died, reported an init error
        or outlasted the init limit (Lambda's 10 s plus the function's timeout, unless the spec says)."""
        init_deadline = self._spawned_at + self.spec.init_limit_s
        while not self._ready.wait(0.05):
            if self._process.poll() is not None or self._api.init_error is not None:
                return False
            if time.monotonic() > init_deadline:
                self._init_timed_out = True
                return False
        return True

    def invoke(self, payload: bytes, request: InvokeRequest | None = None) -> InvocationReport:
        """Runs one invocation; the first one waits for the init (and reports its duration).
        `request` carries the caller's ids when it has them (LocalStack does), else new ones."""
        self._in_flight = True
        try:
            return self._invoke(payload, request or InvokeRequest(str(uuid.uuid4()), self.spec.arn))
        finally:
            self._in_flight = False

    def _invoke(self, payload: bytes, request: InvokeRequest) -> InvocationReport:
        cold = not self._invoked
        self._invoked = True
        request_id = request.request_id
        self._output(f"START RequestId: {request_id} Version: $LATEST")
        if not self._init_ended():
            return self._finish(self._init_failure(request_id))

        started = time.monotonic()
        deadline = started + self.spec.timeout_s
        deadline_ms = int((time.time() + self.spec.timeout_s) * 1000)
        invocation = Invocation(request_id, payload, deadline_ms, request.function_arn, request.trace_id)
        with self._freeze_lock:
            # Thaw and hand over under one lock: the runtime's next /next must not freeze it
            # again between the two (it may still be on its way from the previous invocation).
            if self._frozen and self.alive:
                self._signal(signal.SIGCONT)
            self._frozen = False
            self._waiting = False
            self._handed_over += 1
            self._api.next_invocation(invocation)
        init_ms = (self._ready_at - self._spawned_at) * 1000 if cold and self._ready_at else None
        while True:
            try:
                result = self._api.results.get(timeout=0.02)
            except queue.Empty:
                if self._process.poll() is not None:
                    return self._finish(self._report(request_id, Outcome.CRASH, self._crash_body(), started, init_ms))
                if time.monotonic() > deadline:
                    self.kill()
                    message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
                    body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
                    self._output(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}Z {request_id} {message}")
                    return self._finish(self._report(request_id, Outcome.TIMEOUT, body, started, init_ms))
                continue
            if result.request_id == request_id:
                return self._finish(self._result_report(result, started, init_ms))

    def kill(self) -> None:
        """Ends the environment at once (a stopped process is killed as well); ending it again does nothing."""
        self._dead = True
        if self._process.poll() is None:
            self._signal(signal.SIGKILL)
            self._process.wait()
        if not self._api_closed:
            self._api_closed = True
            self._api.close()

    def _signal(self, signum: signal.Signals) -> None:
        # The process may have died since it was last seen alive: nothing left to signal then.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signum)

    # --- the runtime's side -------------------------------------------------------------

    def _runtime_waits(self) -> None:
        if not self._ready.is_set():
            self._ready_at = time.monotonic()
            self._ready.set()
        with self._freeze_lock:
            self._waiting = True
            if self._freeze and self._handed_over and self.alive and not self._api.has_pending_invocation():
                # As on AWS: once the runtime asks for the next event, the environment is frozen
                # until one arrives. Background threads (span exporters included) stop with it.
                self._signal(signal.SIGSTOP)
                self._frozen = True

    # --- reports ------------------------------------------------------------------------

    def _result_report(self, result: Result, started: float, init_ms: float | None) -> InvocationReport:
        outcome = Outcome.ERROR if result.error_type else Outcome.RESPONSE
        return self._report(result.request_id, outcome, result.body, started, init_ms)

    def _report(self, request_id: str, outcome: Outcome, body: bytes, started: float, init_ms: float | None) -> InvocationReport:
        return InvocationReport(request_id, outcome, body, (time.monotonic() - started) * 1000, init_ms, self._max_memory_mb())

    def _init_failure(self, request_id: str) -> InvocationReport:
        if self._process.poll() is None:
            self.kill()
        status = "timeout" if self._init_timed_out else "error"
        self._output(f"INIT_REPORT Init Duration: {(time.monotonic() - self._spawned_at) * 1000:.2f} ms Phase: init Status: {status}")
        return InvocationReport(request_id, Outcome.INIT_ERROR, self.init_error(), 0.0, None, self._max_memory_mb())

    def init_error(self) -> bytes:
        """Why the init failed, once it has: the runtime's /init/error, the init limit, or that it exited."""
        if self._api.init_error:
            return json.dumps(self._api.init_error).encode()
        if self._init_timed_out:
            message = f"the runtime did not finish its init within {self.spec.init_limit_s:g} s"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited during init"}).encode()

    def _crash_body(self) -> bytes:
        code = self._process.returncode
        message = f"RequestId: exited with status {code}" if code >= 0 else f"Runtime exited with signal: {signal.Signals(-code).name}"
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()

    def _finish(self, report: InvocationReport) -> InvocationReport:
        if report.outcome in {Outcome.TIMEOUT, Outcome.CRASH, Outcome.INIT_ERROR}:
            self.kill()
        if report.outcome in {Outcome.ERROR, Outcome.CRASH, Outcome.INIT_ERROR}:
            error = _error_summary(report.body)
            self._output(f"[ERROR] {report.outcome.value}: {error}")
        self._output(f"END RequestId: {report.request_id}")
        line = (
            f"REPORT RequestId: {report.request_id}\tDuration: {report.duration_ms:.2f} ms\t"
            f"Billed Duration: {report.billed_ms} ms\tMemory Size: {self.spec.memory_mb} MB\t"
            f"Max Memory Used: {report.max_memory_mb} MB"
        )
        if report.init_duration_ms is not None:
            line += f"\tInit Duration: {report.init_duration_ms:.2f} ms"
        if report.outcome is Outcome.TIMEOUT:
            line += "\tStatus: timeout"
        self._output(line)
        return report

    def _max_memory_mb(self) -> int:
        """Peak resident memory of the environment (VmHWM), as Lambda reports it."""
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return math.ceil(int(line.split()[1]) / 1024)
        return 0

    def _environment(self) -> dict[str, str]:
        spec = self.spec
        return {
            **spec.environment,
            "AWS_LAMBDA_RUNTIME_API": self._api.address,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.task_root),
            "LAMBDA_RUNTIME_DIR": str(spec.python_path[-1]),
            "PYTHONPATH": os.pathsep.join(str(path) for path in spec.python_path),
            "PYTHONUNBUFFERED": "1",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }

    def _copy_output(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            self._output(raw.decode(errors="replace").rstrip("\n"))


def _error_summary(body: bytes) -> str:
    try:
        error = json.loads(body)
        return f"{error.get('errorType', '?')}: {error.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:500]
