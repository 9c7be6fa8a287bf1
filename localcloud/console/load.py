"""The load generator the console starts and stops: the command an application's start-up hook
offered (`StartupContext.offer_load`), its output on the cloud's console."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from localcloud.errors import LocalCloudError
from localcloud.lifetime import terminated_with

STOP_GRACE_S = 20.0  # after SIGINT, a load generator prints its summary; then SIGKILL to its group


class LoadGenerator:
    def __init__(self, command: list[str], log: Callable[[str], None]) -> None:
        self.command = command
        self._log = log
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._started_at = 0.0

    def start(self) -> dict[str, Any]:
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                raise LocalCloudError("the load generator is running already")
            self._log(f"local cloud: load generator started: {shlex.join(self.command)}")
            started: queue.Queue[subprocess.Popen[str] | OSError] = queue.Queue()
            # Started by a thread that lives as long as the generator runs: the kernel's parent-death
            # signal (sent when that thread ends) then ends it with the cloud, kill -9 included.
            threading.Thread(target=self._run, args=(started,), name="load-generator", daemon=True).start()
            process = started.get()
            if isinstance(process, OSError):
                raise LocalCloudError(f"the load generator did not start: {process}")
            self._process = process
            self._started_at = time.monotonic()
        return self.describe()

    def _run(self, started: queue.Queue[subprocess.Popen[str] | OSError]) -> None:
        try:
            # Its own process group: a Ctrl-C in the cloud's terminal reaches the cloud, which stops the
            # group (a generator's own workers included, as Locust's).
            process = subprocess.Popen(  # noqa: S603 - the command the application's start-up offered
                self.command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
                preexec_fn=terminated_with(os.getpid()),
            )
        except OSError as error:
            started.put(error)
            return
        started.put(process)
        assert process.stdout is not None
        for line in process.stdout:
            self._log(f"[load] {line.rstrip()}")
        self._log(f"local cloud: load generator ended ({process.wait()})")

    def stop(self) -> dict[str, Any]:
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C would: Locust stops, writes its figures, the summary follows
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            process = self._process
        running = process is not None and process.poll() is None
        return {
            "command": shlex.join(self.command),
            "running": running,
            "pid": process.pid if process is not None else None,
            "exit_code": None if process is None or running else process.returncode,
            "seconds": round(time.monotonic() - self._started_at) if running else None,
        }
