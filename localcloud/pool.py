"""The execution environments of one function: reuse, scale-out up to a limit, throttling,
idle reaping and recycling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from localcloud.environment import ExecutionEnvironment, FunctionSpec, InvocationReport, Outcome


class Throttled(Exception):
    """Every environment is busy and the function is at its concurrency limit."""


@dataclass
class _Idle:
    environment: ExecutionEnvironment
    since: float
    generation: int


class FunctionPool:
    def __init__(
        self,
        spec: FunctionSpec,
        limit: int,
        output: Callable[[str], None],
        freeze: bool,
        throttle_wait_s: float = 2.0,
    ) -> None:
        self.spec = spec
        self.limit = limit
        self._output = output
        self._freeze = freeze
        self._throttle_wait_s = throttle_wait_s
        self._idle: list[_Idle] = []  # most recently used last: reused first, as Lambda does
        self._busy = 0
        self._started = 0
        self._generation = 0  # bumped by recycle(): environments of older generations retire
        self._changed = threading.Condition()
        self._closed = False

    def invoke(self, payload: bytes, trace_id: str | None = None) -> InvocationReport:
        environment, generation = self._acquire()
        try:
            report = environment.invoke(payload, trace_id)
        except BaseException:
            # A bug here, not the function's: end that environment and give its slot back.
            environment.kill()
            with self._changed:
                self._busy -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._busy -= 1
            if report.outcome not in {Outcome.TIMEOUT, Outcome.CRASH, Outcome.INIT_ERROR}:
                if generation == self._generation and not self._closed:
                    self._idle.append(_Idle(environment, time.monotonic(), generation))
                else:
                    environment.kill()
            self._changed.notify()
        return report

    def reap_idle(self, idle_timeout_s: float) -> int:
        now = time.monotonic()
        with self._changed:
            expired = [idle for idle in self._idle if now - idle.since > idle_timeout_s]
            self._idle = [idle for idle in self._idle if idle not in expired]
        for idle in expired:
            idle.environment.kill()
        return len(expired)

    def recycle(self) -> int:
        """Ends every idle environment and retires busy ones when they finish: the next requests start cold."""
        with self._changed:
            self._generation += 1
            retired, self._idle = self._idle, []
        for idle in retired:
            idle.environment.kill()
        return len(retired)

    def close(self) -> None:
        with self._changed:
            self._closed = True
        self.recycle()

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        with self._changed:
            return [idle.environment for idle in self._idle]

    def _acquire(self) -> tuple[ExecutionEnvironment, int]:
        deadline = time.monotonic() + self._throttle_wait_s
        with self._changed:
            while True:
                while self._idle:
                    idle = self._idle.pop()
                    if idle.environment.alive:
                        self._busy += 1
                        return idle.environment, idle.generation
                if self._busy < self.limit:
                    self._busy += 1
                    self._started += 1
                    number, generation = self._started, self._generation
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Throttled(self.spec.name)
                self._changed.wait(remaining)
        try:
            return ExecutionEnvironment(self.spec, number, self._output, self._freeze), generation
        except BaseException:
            with self._changed:
                self._busy -= 1
                self._changed.notify()
            raise
