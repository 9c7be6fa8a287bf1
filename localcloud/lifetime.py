"""Children that do not outlive the local cloud, even when it is killed outright (kill -9 runs
no clean-up): the kernel's parent-death signal (Linux)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable

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
