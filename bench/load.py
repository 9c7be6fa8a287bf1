"""Measuring requests as a client sees them: one at a time (`timed`), or a closed loop of
concurrent clients (`closed_loop`), each on its own connection, sending back to back until a fixed
number of requests has been sent."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

# How long the clients of a closed loop may take to open their connections and line up.
LINE_UP_TIMEOUT_S = 30


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call: Callable[[], httpx.Response]) -> float:
    """Milliseconds the call took; an answer >= 400 stops the benchmark (a sequential measure
    of a failing route would be meaningless)."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return elapsed


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    elapsed_s: float
    latencies_ms: list[float]  # of the answers < 400
    errors: Counter[str]  # an answer >= 400 by status, a failed request by exception name

    @property
    def succeeded_per_s(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s


def closed_loop(
    new_client: Callable[[], httpx.Client], send: Callable[[httpx.Client], httpx.Response], concurrency: int, requests: int
) -> LoadResult:
    """`requests` requests from `concurrency` clients, each sending its next one when the last is
    answered. Errors are counted, not raised: under load they are a result."""
    lock = threading.Lock()
    sent = 0
    # Every client is connected before the clock starts, and starts with the others.
    lined_up = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[Counter[str]] = [Counter() for _ in range(concurrency)]
    failures: list[BaseException] = []

    def take_one() -> bool:
        nonlocal sent
        with lock:
            if sent == requests:
                return False
            sent += 1
            return True

    def client_loop(number: int) -> None:
        try:
            with new_client() as client:
                lined_up.wait(LINE_UP_TIMEOUT_S)
                while take_one():
                    started = time.perf_counter()
                    try:
                        status = send(client).status_code
                    except httpx.HTTPError as error:
                        errors[number][type(error).__name__] += 1
                        continue
                    if status >= 400:
                        errors[number][str(status)] += 1
                    else:
                        latencies[number].append((time.perf_counter() - started) * 1000)
        except BaseException as error:  # a bug of the benchmark, not a result: raised below
            failures.append(error)
            lined_up.abort()

    clients = [threading.Thread(target=client_loop, args=(number,), name=f"load-client-{number}") for number in range(concurrency)]
    for client in clients:
        client.start()
    # A client that failed or never lined up breaks the barrier: raised below, once every client has ended.
    with contextlib.suppress(threading.BrokenBarrierError):
        lined_up.wait(LINE_UP_TIMEOUT_S)
    started = time.perf_counter()
    for client in clients:
        client.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return LoadResult(concurrency, requests, elapsed, [ms for own in latencies for ms in own], sum(errors, Counter()))
