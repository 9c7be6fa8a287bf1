"""One Lambda execution environment: a process running the real runtime client against its own
Runtime API, initialised once (the cold start), reused while warm, frozen between invocations;
with the external extensions of its layers beside it, and the Extensions and Telemetry APIs.

The phases are AWS's: init (extensions start and register, then the runtime and its internal
extensions initialise) ends when the runtime and every extension have asked for their next
event; an invocation's response goes to the caller as soon as the runtime posts it, and the
invocation ends (REPORT, freeze) when the runtime and every extension have asked again: the
time between is `PostRuntimeExtensionsDuration`, counted in Duration and billed. Ending an
environment that has extensions sends the runtime SIGTERM and its external extensions SHUTDOWN,
and kills what is left at the deadline (500 ms with internal extensions only, 2,000 ms with
external ones); one without extensions is killed at once."""

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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from localcloud.extensions_api import Extensions
from localcloud.lifetime import terminated_with
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
    extensions: tuple[Path, ...] = ()  # the executables of its layers' extensions/ folders (/opt/extensions)

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
    # From the runtime's response to the last extension's next event (None: no extension took part).
    post_runtime_ms: float | None = None

    @property
    def billed_ms(self) -> int:
        # On-demand functions on managed runtimes are billed for init too (since August 2025).
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0.0))


Output = Callable[[str], None]
# initializing: spawned, the runtime not yet at its first /next; busy: an invocation in flight (until
# the runtime asks for the next one); idle: the runtime waits for its next event; frozen: SIGSTOPped.
State = Literal["initializing", "busy", "idle", "frozen"]
# AWS_LAMBDA_INITIALIZATION_TYPE: started for a request, or ahead of requests (provisioned concurrency).
InitializationType = Literal["on-demand", "provisioned-concurrency"]


# The thread every environment's processes are started from (see `_spawn`).
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="environment-spawner")

# Shutdown deadlines (AWS: Lambda execution environment lifecycle, shutdown phase).
SHUTDOWN_INTERNAL_ONLY_S = 0.5
SHUTDOWN_WITH_EXTERNAL_S = 2.0
# Of it, the runtime's: 300 ms, 500 ms for a runtime with an internal extension (AWS's figures).
SHUTDOWN_RUNTIME_S = 0.3
SHUTDOWN_RUNTIME_WITH_INTERNAL_S = 0.5


class ExecutionEnvironment:
    def __init__(
        self, spec: FunctionSpec, number: int, output: Output, freeze: bool, initialization_type: InitializationType = "on-demand"
    ) -> None:
        self.spec = spec
        self.number = number
        self.initialization_type = initialization_type
        self._output = output
        self._freeze = freeze
        self._lock = threading.Condition()  # the state's flags, the freeze and the phases' ends
        external_names = {path.name for path in spec.extensions}
        self._extensions = Extensions(spec.name, spec.handler, spec.account_id, external_names, self._participant_waits)
        self._extensions.telemetry.deliver_when(lambda: not self._frozen)
        self._api = RuntimeApi(on_next=self._runtime_waits, extensions=self._extensions)
        self._ready = threading.Event()
        self._frozen = False
        self._runtime_waiting = False  # the runtime is at /next
        self._runtime_waited_at = 0.0  # when it last asked
        self._in_flight = False  # from the invocation's start to its end (after the extensions')
        self._invoked = False
        self._handed_over = 0  # invocations given to the runtime
        self._dead = False
        self._init_timed_out = False  # the init limit, not an exit or an init error, ended the init
        self._api_closed = False
        self._spawned_at = time.monotonic()
        self._ready_at: float | None = None
        self._current: _Current | None = None  # the invocation whose post-runtime phase may still run
        self._completing = threading.Lock()
        self._extensions.telemetry.emit(
            "platform.initStart",
            {"initializationType": initialization_type, "phase": "init", "functionName": spec.name, "functionVersion": "$LATEST"},
        )
        environment = self._environment()
        self._external = [self._spawn([str(path)], environment, f"{path.name}-{number}", "extension") for path in spec.extensions]
        self._process: subprocess.Popen[bytes] | None = None
        if self._externals_registered():
            runtime = [spec.python, "-S", "-m", "awslambdaric", spec.handler]
            self._process = self._spawn(runtime, environment, f"{spec.name}-{number}", "function")

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else self._external[0].pid

    @property
    def alive(self) -> bool:
        return not self._dead and self._process is not None and self._process.poll() is None

    @property
    def state(self) -> State:
        with self._lock:
            if not self._ready.is_set():
                return "initializing"
            if self._in_flight or not self._runtime_waiting or not self._extensions.all_waiting():
                return "busy"
            return "frozen" if self._frozen else "idle"

    def initialized(self) -> bool:
        """Waits for the init to end: False, and the environment ended, if it failed."""
        if self._init_ended():
            return True
        self.kill()
        return False

    def _init_ended(self) -> bool:
        """Waits until the runtime and every extension have asked for their next event; False if a
        process died, an init error was reported or the init outlasted its limit (Lambda's 10 s
        plus the function's timeout, unless the spec says)."""
        init_deadline = self._spawned_at + self.spec.init_limit_s
        while not self._ready.wait(0.05):
            if self._process is None or self._process.poll() is not None or self._api.init_error is not None:
                return False
            if self._extensions.failed() or any(process.poll() is not None for process in self._external):
                return False
            if time.monotonic() > init_deadline:
                self._init_timed_out = True
                return False
        return True

    def _externals_registered(self) -> bool:
        """External extensions register before the runtime starts (AWS starts it after they have)."""
        deadline = self._spawned_at + self.spec.init_limit_s
        with self._lock:
            while len([extension for extension in self._extensions.registered if not extension.internal]) < len(self._external):
                if any(process.poll() is not None for process in self._external) or self._extensions.failed():
                    return False
                if time.monotonic() > deadline:
                    self._init_timed_out = True
                    return False
                self._lock.wait(0.05)  # woken by each registration; the timeout notices an exit
        return True

    def invoke(self, payload: bytes, request: InvokeRequest | None = None) -> InvocationReport:
        """Runs one invocation until the runtime has answered: the report the caller's response is
        made of. The first one waits for the init (and reports its duration). `complete()` must
        follow: it waits for the extensions and ends the invocation. `request` carries the
        caller's ids when it has them (LocalStack does), else new ones."""
        self.complete()  # the previous invocation's extensions first, if its caller did not wait
        with self._lock:
            self._in_flight = True
        try:
            report = self._invoke(payload, request or InvokeRequest(str(uuid.uuid4()), self.spec.arn))
        except BaseException:
            with self._lock:
                self._in_flight = False
            raise
        return report

    def complete(self) -> InvocationReport | None:
        """Ends the current invocation once the runtime and every extension have asked for their
        next event (or the function's timeout has passed): prints END and REPORT and returns the
        invocation's report, Duration including the extensions' time. None if none is open."""
        with self._completing:  # one caller ends it; another (the next `invoke`) waits for that
            with self._lock:
                current, self._current = self._current, None
            if current is None:
                return None
            try:
                return self._finish(self._after_runtime(current))
            finally:
                with self._lock:
                    self._in_flight = False
                    self._maybe_freeze()

    def _invoke(self, payload: bytes, request: InvokeRequest) -> InvocationReport:
        cold = not self._invoked
        self._invoked = True
        request_id = request.request_id
        self._output(f"START RequestId: {request_id} Version: $LATEST")
        if not self._init_ended():
            return self._open(_Current(self._init_failure(request_id), 0.0, 0.0))

        started = time.monotonic()
        deadline = started + self.spec.timeout_s
        deadline_ms = int((time.time() + self.spec.timeout_s) * 1000)
        invocation = Invocation(request_id, payload, deadline_ms, request.function_arn, request.trace_id)
        start: dict[str, Any] = {"requestId": request_id, "version": "$LATEST"}
        if request.trace_id:
            start["tracing"] = {"type": "X-Amzn-Trace-Id", "value": request.trace_id}
        self._extensions.telemetry.emit("platform.start", start)
        with self._lock:
            # Thaw and hand over under one lock: the runtime's next /next must not freeze it
            # again between the two (it may still be on its way from the previous invocation).
            self._thaw()
            self._runtime_waiting = False
            self._handed_over += 1
            self._api.next_invocation(invocation)
            self._extensions.invoke(request_id, deadline_ms, request.function_arn, request.trace_id)
        # A provisioned environment's init was nobody's request: REPORT has no Init Duration then.
        on_demand = self.initialization_type == "on-demand"
        init_ms = (self._ready_at - self._spawned_at) * 1000 if cold and on_demand and self._ready_at else None
        while True:
            try:
                result = self._api.results.get(timeout=0.02)
            except queue.Empty:
                if self._process is None or self._process.poll() is not None:
                    crash = self._report(request_id, Outcome.CRASH, self._crash_body(), started, init_ms)
                    return self._open(_Current(crash, started, deadline))
                if time.monotonic() > deadline:
                    return self._open(_Current(self._timeout(request_id, started, init_ms), started, deadline))
                continue
            if result.request_id == request_id:
                return self._open(_Current(self._result_report(result, started, init_ms), started, deadline, result.at))

    def _open(self, current: _Current) -> InvocationReport:
        with self._lock:
            self._current = current
        return current.report

    @property
    def extensions_at_work(self) -> bool:
        """The runtime has answered and extensions may still be working on the invocation: its
        caller has its answer, and `complete()` waits for them."""
        with self._lock:
            current = self._current
        return current is not None and current.responded_at is not None and bool(self._extensions.registered)

    def _after_runtime(self, current: _Current) -> InvocationReport:
        """The post-runtime phase, when extensions take part: once the runtime has asked for its next
        event (runtimeDone), until every extension has too, within the function's timeout."""
        report = current.report
        if current.responded_at is None or not self._extensions.registered:
            return report
        runtime_ready = self._wait_for(lambda: self._runtime_waiting, current.deadline)
        self._runtime_done(report, current, self._runtime_waited_at if runtime_ready else time.monotonic())
        finished = runtime_ready and self._wait_for(self._extensions.all_waiting, current.deadline)
        done_at = time.monotonic()
        # PostRuntimeExtensionsDuration: from the runtime's next /next to the last extension's.
        runtime_done_at = self._runtime_waited_at if runtime_ready else current.responded_at
        measured = replace(report, duration_ms=(done_at - current.started) * 1000, post_runtime_ms=(done_at - runtime_done_at) * 1000)
        if self._extension_failed() or not self.alive:
            return replace(measured, outcome=Outcome.CRASH, body=self._crash_body())
        if not finished:
            self._say_timed_out(report.request_id)
            return replace(measured, outcome=Outcome.TIMEOUT)
        return replace(measured, max_memory_mb=self._max_memory_mb())

    def _wait_for(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Until `condition` holds (True), or a process has failed or the deadline passed (False)."""
        with self._lock:
            while not condition():
                if self._extension_failed() or not self.alive or time.monotonic() > deadline:
                    return False
                self._lock.wait(0.02)
            return True

    def _extension_failed(self) -> bool:
        return self._extensions.failed() is not None or any(process.poll() is not None for process in self._external)

    def _timeout(self, request_id: str, started: float, init_ms: float | None) -> InvocationReport:
        message = self._say_timed_out(request_id)
        body = json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        return self._report(request_id, Outcome.TIMEOUT, body, started, init_ms)

    def _say_timed_out(self, request_id: str) -> str:
        """Lambda's line for an invocation past its timeout; returns the message."""
        message = f"Task timed out after {self.spec.timeout_s:.2f} seconds"
        self._output(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}Z {request_id} {message}")
        return message

    def kill(self) -> None:
        """Ends the environment at once (a stopped process is killed as well); ending it again does nothing."""
        self._dead = True
        for process in self._processes():
            if process.poll() is None:
                self._signal(process, signal.SIGKILL)
                process.wait()
        self._close_api()

    def shutdown(self, reason: str = "spindown") -> None:
        """Ends the environment as Lambda does. With no extension registered, at once. Otherwise the
        runtime gets SIGTERM and 300 ms (500 ms with an internal extension), then SIGKILL; then the
        external extensions that asked for SHUTDOWN get it, with the deadline (2 s from the start),
        and are killed at it. `reason`: spindown (idle, recycled, stopped), timeout or failure."""
        extensions = self._extensions.registered
        if not extensions or self._dead:
            self.kill()
            return
        external = any(not extension.internal for extension in extensions)
        limit_s = SHUTDOWN_WITH_EXTERNAL_S if external else SHUTDOWN_INTERNAL_ONLY_S
        internal = any(extension.internal for extension in extensions)
        runtime_s = SHUTDOWN_RUNTIME_WITH_INTERNAL_S if internal else SHUTDOWN_RUNTIME_S
        started = time.monotonic()
        deadline_ms = int((time.time() + limit_s) * 1000)
        with self._lock:
            self._dead = True
            self._thaw()
        # What the Telemetry API still holds goes out while every listener still runs (an internal
        # extension's is in the runtime, which then exports what it made of it on SIGTERM).
        self._extensions.telemetry.flush()
        if self._process is not None and self._process.poll() is None:
            self._signal(self._process, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(runtime_s)
        if self._process is not None and self._process.poll() is None:
            self._signal(self._process, signal.SIGKILL)
        self._extensions.shutdown(reason, deadline_ms)
        for process in self._external:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, started + limit_s - time.monotonic()))
        self.kill()

    def _processes(self) -> list[subprocess.Popen[bytes]]:
        return [*([self._process] if self._process else []), *self._external]

    def _close_api(self) -> None:
        with self._lock:
            if self._api_closed:
                return
            self._api_closed = True
        self._extensions.close()
        self._api.close()

    def _signal(self, process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
        # The process may have died since it was last seen alive: nothing left to signal then.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def _thaw(self) -> None:
        """With the lock held: lets the environment's processes run again."""
        if self._frozen:
            for process in self._processes():
                if process.poll() is None:
                    self._signal(process, signal.SIGCONT)
            self._frozen = False
            self._extensions.telemetry.wake()

    # --- the runtime's and the extensions' side ------------------------------------------

    def _runtime_waits(self) -> None:
        with self._lock:
            self._runtime_waiting = True
            self._runtime_waited_at = time.monotonic()
            # No extension registers once the runtime has asked for its first event (the emulator's rule).
            self._extensions.close_registration()
            self._phase_may_have_ended()

    def _participant_waits(self) -> None:
        with self._lock:
            self._phase_may_have_ended()

    def _phase_may_have_ended(self) -> None:
        """With the lock held, after the runtime or an extension asked for its next event."""
        if not self._ready.is_set() and self._runtime_waiting and self._extensions.all_waiting():
            self._ready_at = time.monotonic()
            init_ms = (self._ready_at - self._spawned_at) * 1000
            telemetry = self._extensions.telemetry
            kind = self.initialization_type
            telemetry.emit("platform.initRuntimeDone", {"initializationType": kind, "phase": "init", "status": "success"})
            telemetry.emit(
                "platform.initReport",
                {"initializationType": kind, "phase": "init", "status": "success", "metrics": {"durationMs": round(init_ms, 3)}},
            )
            telemetry.end_backlog()
            self._ready.set()
        self._maybe_freeze()
        self._lock.notify_all()

    def _maybe_freeze(self) -> None:
        """With the lock held. As on AWS: once the runtime and every extension have asked for their
        next event, the environment is frozen until one arrives. Background threads (span
        exporters included) stop with it."""
        if (
            self._freeze
            # frozen once it has served (on demand, the init had a request waiting), or right after
            # its init when provisioned, as Lambda freezes a provisioned environment until used
            and (self._handed_over or self.initialization_type == "provisioned-concurrency")
            and not self._frozen
            and not self._in_flight
            and self._runtime_waiting
            and self._extensions.all_waiting()
            and self.alive
            and not self._api.has_pending_invocation()
        ):
            for process in self._processes():
                self._signal(process, signal.SIGSTOP)
            self._frozen = True

    # --- reports ------------------------------------------------------------------------

    def _result_report(self, result: Result, started: float, init_ms: float | None) -> InvocationReport:
        outcome = Outcome.ERROR if result.error_type else Outcome.RESPONSE
        return self._report(result.request_id, outcome, result.body, started, init_ms)

    def _report(self, request_id: str, outcome: Outcome, body: bytes, started: float, init_ms: float | None) -> InvocationReport:
        return InvocationReport(request_id, outcome, body, (time.monotonic() - started) * 1000, init_ms, self._max_memory_mb())

    def _runtime_done(self, report: InvocationReport, current: _Current, runtime_ready_at: float) -> None:
        """platform.runtimeDone: from the invocation's start to the runtime's next /next, with the
        time to its response and the runtime's own overhead after it as spans."""
        assert current.responded_at is not None
        wall = datetime.now(UTC) - timedelta(seconds=time.monotonic() - current.started)

        def span(name: str, start: float, end: float) -> dict[str, Any]:
            return {"name": name, "start": _iso(wall + timedelta(seconds=start - current.started)), "durationMs": _ms(end - start)}

        self._extensions.telemetry.emit(
            "platform.runtimeDone",
            {
                "requestId": report.request_id,
                "status": "success" if report.outcome is Outcome.RESPONSE else "error",
                "metrics": {"durationMs": _ms(runtime_ready_at - current.started), "producedBytes": len(report.body)},
                "spans": [
                    span("responseLatency", current.started, current.responded_at),
                    span("responseDuration", current.responded_at, current.responded_at),
                    span("runtimeOverhead", current.responded_at, max(current.responded_at, runtime_ready_at)),
                ],
            },
        )

    def _init_failure(self, request_id: str) -> InvocationReport:
        if self.alive or any(process.poll() is None for process in self._external):
            self.kill()
        status = "timeout" if self._init_timed_out else "error"
        self._output(f"INIT_REPORT Init Duration: {(time.monotonic() - self._spawned_at) * 1000:.2f} ms Phase: init Status: {status}")
        return InvocationReport(request_id, Outcome.INIT_ERROR, self.init_error(), 0.0, None, self._max_memory_mb())

    def init_error(self) -> bytes:
        """Why the init failed, once it has: the runtime's /init/error, an extension's, the init
        limit, or that a process exited."""
        if self._api.init_error:
            return json.dumps(self._api.init_error).encode()
        if failed := self._extensions.failed():
            assert failed.error is not None
            message = f"extension {failed.name} reported {failed.error['kind']} error"
            return json.dumps({"errorType": failed.error["errorType"], "errorMessage": message}).encode()
        if self._init_timed_out:
            message = f"the runtime did not finish its init within {self.spec.init_limit_s:g} s"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}).encode()
        if any(process.poll() is not None for process in self._external):
            return json.dumps({"errorType": "Extension.Crash", "errorMessage": "an extension exited during init"}).encode()
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited during init"}).encode()

    def _crash_body(self) -> bytes:
        code = self._process.returncode if self._process else None
        if code is None:
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "the runtime is gone"}).encode()
        message = f"RequestId: exited with status {code}" if code >= 0 else f"Runtime exited with signal: {signal.Signals(-code).name}"
        return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()

    def _finish(self, report: InvocationReport) -> InvocationReport:
        if report.outcome in {Outcome.TIMEOUT, Outcome.CRASH, Outcome.INIT_ERROR}:
            self.shutdown("timeout" if report.outcome is Outcome.TIMEOUT else "failure")
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
        if report.post_runtime_ms is not None:
            line += f"\tPostRuntimeExtensionsDuration: {report.post_runtime_ms:.2f} ms"
        if report.outcome is Outcome.TIMEOUT:
            line += "\tStatus: timeout"
        self._output(line)
        metrics: dict[str, float] = {
            "durationMs": round(report.duration_ms, 3),
            "billedDurationMs": report.billed_ms,
            "memorySizeMB": self.spec.memory_mb,
            "maxMemoryUsedMB": report.max_memory_mb,
        }
        if report.init_duration_ms is not None:
            metrics["initDurationMs"] = round(report.init_duration_ms, 3)
        status = {Outcome.RESPONSE: "success", Outcome.ERROR: "error", Outcome.TIMEOUT: "timeout"}.get(report.outcome, "failure")
        self._extensions.telemetry.emit("platform.report", {"requestId": report.request_id, "status": status, "metrics": metrics})
        return report

    def _max_memory_mb(self) -> int:
        """Peak resident memory of the runtime (VmHWM), as Lambda reports it."""
        if self._process is None:
            return 0
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
            "AWS_LAMBDA_INITIALIZATION_TYPE": self.initialization_type,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.task_root),
            "LAMBDA_RUNTIME_DIR": str(spec.python_path[-1]),
            "PYTHONPATH": os.pathsep.join(str(path) for path in spec.python_path),
            "PYTHONUNBUFFERED": "1",
            # The runtime's interpreter first, as /var/lang/bin on Lambda: an extension's `python3`.
            "PATH": os.pathsep.join([str(Path(spec.python).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }

    def _spawn(self, command: list[str], environment: dict[str, str], name: str, telemetry_type: str) -> subprocess.Popen[bytes]:
        # Started from one thread that lives as long as the cloud, and killed by the kernel when the
        # cloud dies, even by kill -9 (SIGKILL: a frozen process would hold a SIGTERM until thawed).
        process = _SPAWNER.submit(
            subprocess.Popen,
            command,
            cwd=self.spec.task_root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the cloud, which stops us
            preexec_fn=terminated_with(os.getpid(), signal.SIGKILL),
        ).result()
        threading.Thread(target=self._copy_output, args=(process, telemetry_type), name=f"{name}-output", daemon=True).start()
        return process

    def _copy_output(self, process: subprocess.Popen[bytes], telemetry_type: str) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._output(line)
            self._extensions.telemetry.emit(telemetry_type, line)


@dataclass(frozen=True)
class _Current:
    """An invocation the runtime has answered, until its post-runtime phase ends."""

    report: InvocationReport
    started: float
    deadline: float
    responded_at: float | None = None


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_summary(body: bytes) -> str:
    try:
        error = json.loads(body)
        return f"{error.get('errorType', '?')}: {error.get('errorMessage', '')}"
    except (ValueError, AttributeError):
        return body.decode(errors="replace")[:500]
