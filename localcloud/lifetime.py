"""Children that do not outlive the local cloud, even when it is killed outright (kill -9 runs
no clean-up): the kernel's parent-death signal (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

from localcloud.errors import LocalCloudError

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def terminated_with(parent: int, signum: signal.Signals = signal.SIGTERM) -> Callable[[], None] | None:
    """What a child runs before exec to get `signum` when `parent` dies. The kernel sends it when
    the *thread* that started the child ends: start it from a thread that lives as long as the
    process. Elsewhere than Linux: None (a killed parent leaves the child running)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork: the child only calls it

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum))
        if os.getppid() != parent:  # died before the signal was set: nothing would send it
            os.kill(os.getpid(), signum)

    return preexec


def until_signalled(still_wanted: Callable[[], bool] = lambda: True, ready: Callable[[], None] = lambda: None) -> None:
    """Returns on SIGTERM or SIGINT (or once `still_wanted` says no); `ready` runs once the signals
    are handled (what tells a waiting parent it may now send one). The handler only appends to
    a list, no lock: an OTLP receiver that outlived a kill -9 of its cloud in CI was found (py-spy)
    with its main thread deadlocked in its handler's threading.Event.set(), the Event that very
    thread was waiting on."""
    signalled: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _: signalled.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _: signalled.append(signum))
    ready()
    while not signalled and still_wanted():
        time.sleep(0.2)  # a signal ends the sleep at once


class Foreground(Protocol):
    """What runs in a terminal's foreground until Ctrl-C: started, waited for, stopped."""

    def start(self) -> None: ...

    def wait(self) -> int: ...  # until its main child exits on its own: that child's code

    def stop(self) -> None: ...


def run_in_foreground(runner: Foreground, name: str, child: str) -> int:
    """Starts `runner`, then waits until Ctrl-C or SIGTERM (exit 0) or its `child` ends on its own
    (an error: nothing asked it to stop); stops everything in every case. A second Ctrl-C while
    stopping does not cut the stop short (PostgreSQL or an engine would outlive us)."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started in the background, where SIGINT comes ignored
    try:
        runner.start()
        code = runner.wait()
        if stopping.is_set():
            return 0
        print(f"{name}: {child} exited on its own (code {code}); stopping the rest", file=sys.stderr)
        # Not a success even if it exited 0: nothing asked it to stop. A signal as the shell says it.
        return 128 - code if code < 0 else code or 1
    except KeyboardInterrupt:
        return 0
    except LocalCloudError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    finally:
        stopping.set()
        runner.stop()


def stop_child(process: subprocess.Popen[bytes], signum: signal.Signals = signal.SIGTERM, timeout_s: float = 30) -> None:
    """`signum` (its own clean stop), then SIGKILL if it has not ended within `timeout_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_ready(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, timeout_s: float) -> None:
    """Until `ready` says so; a LocalCloudError if `process` exits first or the deadline passes."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            raise LocalCloudError(f"{what} exited ({process.returncode}) before it was ready")
        if time.monotonic() > deadline:
            raise LocalCloudError(f"{what} was not ready within {timeout_s:g} s")
        time.sleep(0.2)
