"""Drives `python -m localcloud` as a separate process, as a person would, and reads what it
prints: used by the tests and the benchmark."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from localcloud.iam import CREDENTIALS_FILE
from localcloud.net import free_port
from localcloud.traceview import Span, spans_written

# The environments' packages are installed once per checkout and shared by every test run.
# The checkout this package is in: where the cloud runs from and builds its environments' packages.
ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / ".local" / "build"
T = TypeVar("T")
REPORT = re.compile(r"^\[(?P<function>\w+)\] REPORT RequestId: (?P<request_id>\S+)\t(?P<fields>.*)$")


def wait_until(condition: Callable[[], T | None], what: str, timeout_s: float = 15) -> T:
    """The first value of `condition` that is neither None nor False, polled until the deadline
    (then TimeoutError saying `what` was awaited)."""
    deadline = time.monotonic() + timeout_s
    while (value := condition()) is None or value is False:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.05)
    return value


def _ms(field: str) -> float:
    return float(field.split()[0])  # "12.34 ms"


@dataclass(frozen=True)
class Report:
    function: str
    request_id: str
    duration_ms: float
    init_duration_ms: float | None
    line: str
    post_runtime_ms: float | None = None  # PostRuntimeExtensionsDuration, when extensions took part

    @property
    def cold(self) -> bool:
        return self.init_duration_ms is not None


class LocalCloudProcess:
    def __init__(self, template: Path, state_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.otlp_port = free_port()
        self.console_port = free_port()
        self.state_dir = state_dir
        self.lines: list[str] = []
        self._lock = threading.Lock()
        command = [sys.executable, "-m", "localcloud", "--template", str(template), "--port", str(self.port)]
        command += [
            "--otlp-port",
            str(self.otlp_port),
            "--console-port",
            str(self.console_port),
            "--state-dir",
            str(state_dir),
            "--build-dir",
            str(BUILD_DIR),
            *extra,
        ]
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def console_url(self) -> str:
        return f"http://127.0.0.1:{self.console_port}"

    @property
    def admin_credentials(self) -> Path:
        """The admin identity the cloud wrote at start (AWS shared-credentials format)."""
        return self.state_dir / CREDENTIALS_FILE

    def wait_ready(self, timeout_s: float = 300) -> LocalCloudProcess:
        """Until it prints its banner (the first run installs the environments' packages)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(" local cloud on http" in line for line in self.snapshot()):
                return self
            if self.process.poll() is not None:
                raise RuntimeError("local cloud exited:\n" + "\n".join(self.snapshot()[-30:]))
            time.sleep(0.1)
        self.stop()  # not left running behind a failed start
        raise TimeoutError("local cloud not ready:\n" + "\n".join(self.snapshot()[-30:]))

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def mark(self) -> int:
        return len(self.snapshot())

    def since(self, mark: int) -> list[str]:
        return self.snapshot()[mark:]

    def wait_for(self, text: str, mark: int = 0, timeout_s: float = 15) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.since(mark):
                if text in line:
                    return line
            time.sleep(0.05)
        raise TimeoutError(f"{text!r} not printed; last lines:\n" + "\n".join(self.snapshot()[-20:]))

    def reports(self, function: str, mark: int = 0, expected: int = 0, timeout_s: float = 10) -> list[Report]:
        """The function's REPORT lines printed since `mark`, waiting until there are `expected`."""
        deadline = time.monotonic() + timeout_s
        while len(found := self._reports(function, mark)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def _reports(self, function: str, mark: int) -> list[Report]:
        found = []
        for line in self.since(mark):
            match = REPORT.match(line)
            if match and match["function"] == function:
                fields = dict(field.split(": ", 1) for field in match["fields"].split("\t"))
                init, post = fields.get("Init Duration"), fields.get("PostRuntimeExtensionsDuration")
                found.append(
                    Report(
                        function,
                        match["request_id"],
                        _ms(fields["Duration"]),
                        _ms(init) if init else None,
                        line,
                        _ms(post) if post else None,
                    )
                )
        return found

    @property
    def telemetry_dir(self) -> Path:
        return self.state_dir / "telemetry"

    def spans(self) -> list[Span]:
        """Every span the receiver has written so far."""
        return spans_written(self.telemetry_dir / "traces.jsonl")

    def wait_for_spans(self, condition: Callable[[list[Span]], bool], timeout_s: float = 15) -> list[Span]:
        """Every span written, once `condition` holds for them: the receiver answers an export
        before it writes it, so an answered request's spans may still be on their way."""
        last: list[Span] = []

        def holds() -> list[Span] | None:
            nonlocal last
            last = self.spans()
            return last if condition(last) else None

        try:
            return wait_until(holds, "the spans written meet the condition", timeout_s)
        except TimeoutError as error:
            raise TimeoutError(f"{error} ({len(last)} spans in {self.telemetry_dir / 'traces.jsonl'})") from None

    def documents(self, name: str) -> list[dict[str, Any]]:
        """The export requests written to a telemetry file (traces.jsonl, metrics.jsonl, logs.jsonl)."""
        try:
            text = (self.telemetry_dir / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        complete = text[: text.rfind("\n") + 1]  # not a line still being written
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def wait_for_documents(
        self, name: str, condition: Callable[[list[dict[str, Any]]], bool], timeout_s: float = 15
    ) -> list[dict[str, Any]]:
        """The export requests of a telemetry file, once `condition` holds for them."""

        def holds() -> list[dict[str, Any]] | None:
            documents = self.documents(name)
            return documents if condition(documents) else None

        return wait_until(holds, f"{name} meets the condition", timeout_s)

    def wait_for_receiver(self, timeout_s: float = 15) -> None:
        """Until the receiver has written every export it answered before now. It writes in the
        order it answers: once a marker export sent now is in traces.jsonl, the others are too.
        (For a test that looks for what is not there, such as data that must not leak.)"""
        trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
        span = {"traceId": trace_id, "spanId": span_id, "name": "localcloud.marker", "startTimeUnixNano": "1", "endTimeUnixNano": "1"}
        marker = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
        httpx.post(f"http://127.0.0.1:{self.otlp_port}/v1/traces", json=marker, timeout=30).raise_for_status()
        self.wait_for_spans(lambda spans: any(span.trace_id == trace_id for span in spans), timeout_s)

    def status(self) -> dict[str, list[dict[str, Any]]]:
        """Each function's execution environments: number, pid and state (as `python -m localcloud status`)."""
        return self.control("status")  # type: ignore[return-value]

    def control(self, command: str) -> dict[str, object]:
        # A schedule's run lasts as long as its function may.
        response = httpx.post(f"{self.url}/_localcloud/{command}", timeout=120)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout_s)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))
