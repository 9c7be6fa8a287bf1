"""Drives `python -m localcloud` as a separate process, as a person would, and reads what it
prints: used by the tests and the benchmark."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bookstore_dev.template import ROOT
from localcloud.net import free_port

# The environments' packages are installed once per checkout and shared by every test run.
BUILD_DIR = ROOT / ".local" / "build"
REPORT = re.compile(r"^\[(?P<function>\w+)\] REPORT RequestId: (?P<request_id>\S+)\t(?P<fields>.*)$")


@dataclass(frozen=True)
class Report:
    function: str
    request_id: str
    duration_ms: float
    init_duration_ms: float | None
    line: str

    @property
    def cold(self) -> bool:
        return self.init_duration_ms is not None


class LocalCloudProcess:
    def __init__(self, template: Path, state_dir: Path, *extra: str) -> None:
        self.port = free_port()
        self.otlp_port = free_port()
        self.state_dir = state_dir
        self.lines: list[str] = []
        self._lock = threading.Lock()
        command = [sys.executable, "-m", "localcloud", "--template", str(template), "--port", str(self.port)]
        command += ["--otlp-port", str(self.otlp_port), "--state-dir", str(state_dir), "--build-dir", str(BUILD_DIR), *extra]
        self.process = subprocess.Popen(  # noqa: S603 - our own module
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
                init = fields.get("Init Duration")
                found.append(
                    Report(
                        function, match["request_id"], float(fields["Duration"].split()[0]), float(init.split()[0]) if init else None, line
                    )
                )
        return found

    def telemetry(self, name: str = "traces.jsonl", quiet_s: float = 0.3, timeout_s: float = 15) -> Path:
        """A telemetry file, once the receiver has written what it got (no growth for `quiet_s`):
        the receiver answers an export first and writes it just after."""
        directory = self.state_dir / "telemetry"
        deadline, last, stable_since = time.monotonic() + timeout_s, None, time.monotonic()
        while time.monotonic() < deadline:
            sizes = tuple(sorted((path.name, path.stat().st_size) for path in directory.glob("*.jsonl")))
            if sizes != last:
                last, stable_since = sizes, time.monotonic()
            elif time.monotonic() - stable_since >= quiet_s:
                break
            time.sleep(0.05)
        return directory / name

    def control(self, command: str) -> dict[str, object]:
        response = httpx.post(f"{self.url}/_localcloud/{command}", timeout=30)
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
