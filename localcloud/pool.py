"""The execution environments of one function: reuse, scale-out up to a limit, throttling,
idle reaping and recycling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from localcloud.environment import ExecutionEnvironment, FunctionSpec, InvocationReport, Outcome

# Outcomes after which the environment has ended itself.
ENDED = {Outcome.TIMEOUT, Outcome.CRASH, Outcome.INIT_ERROR}


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
        provisioned: int = 0,
    ) -> None:
        self.spec = spec
        self.limit = limit
        self.provisioned = provisioned  # the template's ProvisionedConcurrencyConfig: kept initialised
        self._output = output
        self._freeze = freeze
        self._throttle_wait_s = throttle_wait_s
        self._idle: list[_Idle] = []  # most recently used last: reused first, as Lambda does
        self._busy: dict[ExecutionEnvironment, int] = {}  # invocation in flight -> its generation
        self._starting = 0  # slots taken by environments being spawned
        self._started = 0
        self._generation = 0  # bumped by recycle(): environments of older generations retire
        self._changed = threading.Condition()
        self._closed = False
        # Ends invocations whose extensions still work after the response (one per environment at most).
        self._post_runtime = ThreadPoolExecutor(max_workers=max(1, limit), thread_name_prefix=f"{spec.name}-post-runtime")

    def invoke(self, payload: bytes, hold: Callable[[], object] | None = None) -> InvocationReport:
        """The invocation's report as soon as the runtime has answered. While extensions still work
        on it, the environment stays busy and ends its invocation in the background. `hold` runs
        with the environment taken, before the invocation starts (an injected delay, as FIS's
        add-delay holds it from inside the environment)."""
        environment = self._acquire()
        try:
            if hold is not None:
                hold()
            report = environment.invoke(payload)
        except BaseException:
            # A bug here, not the function's: end that environment and give its slot back.
            self._release(environment, reusable=False)
            raise
        if environment.extensions_at_work:
            self._post_runtime.submit(self._complete, environment)
        else:
            self._complete(environment)
        return report

    def _complete(self, environment: ExecutionEnvironment) -> None:
        try:
            report = environment.complete()
        except BaseException:
            self._release(environment, reusable=False)
            raise
        # A timed-out, crashed or never-ready environment has already ended itself.
        self._release(environment, reusable=report is not None and report.outcome not in ENDED)

    def _release(self, environment: ExecutionEnvironment, reusable: bool) -> None:
        with self._changed:
            if reusable and self._busy[environment] == self._generation and not self._closed:
                del self._busy[environment]
                self._idle.append(_Idle(environment, time.monotonic(), self._generation))
                self._changed.notify()
                return
        # Outside the lock (ending a process takes a while); its slot is free once it has ended. One
        # still alive (retired by a recycle, or the pool closing) ends as Lambda ends it: SHUTDOWN.
        environment.shutdown()
        with self._changed:
            del self._busy[environment]
            self._changed.notify()

    def provision(self, count: int) -> int:
        """Starts environments until the function has `count` (at most its limit) and waits for
        their init, as provisioned concurrency does: the requests that follow find them warm.
        Returns how many started and initialised."""
        with self._changed:
            missing = min(count, self.limit) - len(self._busy) - len(self._idle) - self._starting
            if missing <= 0:
                return 0
            self._starting += missing
            numbers = range(self._started + 1, self._started + missing + 1)
            self._started += missing
            generation = self._generation
        environments: list[ExecutionEnvironment] = []
        ready: list[ExecutionEnvironment] = []
        try:
            environments += [
                ExecutionEnvironment(self.spec, number, self._output, self._freeze, "provisioned-concurrency") for number in numbers
            ]
            ready = [environment for environment in environments if environment.initialized()]
        finally:
            with self._changed:
                self._starting -= missing
                kept = generation == self._generation and not self._closed and len(environments) == missing
                if kept:
                    self._idle += [_Idle(environment, time.monotonic(), generation) for environment in ready]
                self._changed.notify_all()
            if not kept:  # recycled or closed meanwhile, or a spawn failed: none of them serves
                for environment in environments:
                    environment.kill()
        return len(ready) if kept else 0

    def reap_idle(self, idle_timeout_s: float) -> int:
        now = time.monotonic()
        with self._changed:
            # Provisioned environments are kept, as Lambda keeps them, however long they are idle.
            expired = [
                idle for idle in self._idle if now - idle.since > idle_timeout_s and idle.environment.initialization_type == "on-demand"
            ]
            self._idle = [idle for idle in self._idle if idle not in expired]
        _shut_down([idle.environment for idle in expired])
        return len(expired)

    def recycle(self) -> int:
        """Ends every idle environment and retires busy ones when they finish: the next requests start
        cold, but for the provisioned ones, which are started again (as a new version's are)."""
        with self._changed:
            self._generation += 1
            retired, self._idle = self._idle, []
            closed = self._closed
        _shut_down([idle.environment for idle in retired])
        if self.provisioned and not closed:
            threading.Thread(target=self.provision, args=(self.provisioned,), name=f"{self.spec.name}-provision", daemon=True).start()
        return len(retired)

    def close(self) -> None:
        with self._changed:
            self._closed = True
        self.recycle()

    @property
    def environments(self) -> list[ExecutionEnvironment]:
        """Every environment of the function: starting, busy and idle, in the order they started."""
        with self._changed:
            environments = [*self._busy, *(idle.environment for idle in self._idle)]
        return sorted(environments, key=lambda environment: environment.number)

    def _acquire(self) -> ExecutionEnvironment:
        deadline = time.monotonic() + self._throttle_wait_s
        ended: list[ExecutionEnvironment] = []
        try:
            with self._changed:
                while True:
                    # The limit caps invocations in flight, as reserved concurrency does, warm
                    # environments included (a throttle fault may lower it below those alive).
                    while self._idle and len(self._busy) + self._starting < self.limit:
                        idle = self._idle.pop()
                        if idle.environment.alive:
                            self._busy[idle.environment] = idle.generation
                            return idle.environment
                        ended.append(idle.environment)  # died while idle: its Runtime API is closed below
                    if len(self._busy) + self._starting < self.limit:
                        self._starting += 1
                        self._started += 1
                        number, generation = self._started, self._generation
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise Throttled(self.spec.name)
                    self._changed.wait(remaining)
        finally:
            for environment in ended:
                environment.kill()
        try:
            environment = ExecutionEnvironment(self.spec, number, self._output, self._freeze)
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._starting -= 1
            self._busy[environment] = generation
        return environment


def _shut_down(environments: list[ExecutionEnvironment]) -> None:
    """Ends environments side by side: each may give its extensions up to 2 s for SHUTDOWN."""
    threads = [threading.Thread(target=environment.shutdown, name="shutdown", daemon=True) for environment in environments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
