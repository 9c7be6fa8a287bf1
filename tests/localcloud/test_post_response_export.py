"""Bookstore's internal extension (`bookstore_shared.telemetry.extension`) against the local
cloud's own Extensions API, in-process: it exports after the invocation has ended, never holds
an invocation past its deadline, and steps aside where there is no Extensions API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from bookstore_shared.telemetry.extension import DEADLINE_MARGIN_S, PostResponseExport
from localcloud.extensions_api import Extensions
from localcloud.net import free_port
from localcloud.process import wait_until
from localcloud.runtime_api import RuntimeApi

ARN = "arn:aws:lambda:us-east-1:123456789012:function:OrdemFunction"


class Flushes:
    """Counts the extension's exports, and when each happened."""

    def __init__(self) -> None:
        self.at: list[float] = []
        self.timeouts_ms: list[int] = []

    def __call__(self, timeout_ms: int) -> bool:
        self.at.append(time.monotonic())
        self.timeouts_ms.append(timeout_ms)
        return True


@pytest.fixture
def api() -> Iterator[tuple[RuntimeApi, Extensions]]:
    changed = threading.Event()
    extensions = Extensions("OrdemFunction", "criar_ordem.handler", "123456789012", set(), changed.set)
    runtime_api = RuntimeApi(on_next=lambda: None, extensions=extensions)
    yield runtime_api, extensions
    extensions.close()
    runtime_api.close()


def test_it_exports_once_the_invocation_has_ended_then_asks_for_the_next_event(api: tuple[RuntimeApi, Extensions]) -> None:
    runtime_api, extensions = api
    flushes = Flushes()
    # Given the extension registered during the init
    export = PostResponseExport.register(runtime_api.address, flushes)
    assert export is not None
    (registered,) = extensions.registered
    assert registered.internal
    assert registered.events == {"INVOKE"}
    wait_until(extensions.all_waiting, "the extension at its next event")

    # When an invocation starts: nothing is exported while the handler runs
    extensions.invoke("req-1", int((time.time() + 10) * 1000), "arn:aws:lambda:us-east-1:123456789012:function:OrdemFunction", None)
    wait_until(lambda: not extensions.all_waiting(), "INVOKE handed over")
    assert not flushes.at

    # Then once the invocation's spans have ended, it exports and asks for the next event
    ended = time.monotonic()
    export.invocation_ended()
    wait_until(extensions.all_waiting, "the extension back at its next event")
    assert len(flushes.at) == 1
    assert flushes.at[0] >= ended


def test_it_never_holds_an_invocation_past_its_deadline(api: tuple[RuntimeApi, Extensions]) -> None:
    runtime_api, extensions = api
    flushes = Flushes()
    export = PostResponseExport.register(runtime_api.address, flushes)
    assert export is not None
    wait_until(extensions.all_waiting, "the extension at its next event")

    # When an invocation whose handler never says it has ended reaches its deadline (1 s away)
    deadline = time.monotonic() + 1
    extensions.invoke("req-2", int((time.time() + 1) * 1000), "arn:aws:lambda:us-east-1:123456789012:function:OrdemFunction", None)

    # Then the extension exports what there is before the deadline and is done with the invocation
    wait_until(lambda: flushes.at, "an export", timeout_s=5)
    wait_until(extensions.all_waiting, "the extension back at its next event", timeout_s=5)
    assert len(flushes.at) == 1
    assert deadline - DEADLINE_MARGIN_S - 0.1 <= flushes.at[0] < deadline
    # And that export gets only the time left before the deadline
    assert flushes.timeouts_ms[0] <= DEADLINE_MARGIN_S * 1000


def test_a_late_word_about_an_earlier_invocation_does_not_end_the_next(api: tuple[RuntimeApi, Extensions]) -> None:
    runtime_api, extensions = api
    flushes = Flushes()
    export = PostResponseExport.register(runtime_api.address, flushes)
    assert export is not None
    wait_until(extensions.all_waiting, "the extension at its next event")
    # Given an invocation that reached its deadline before its handler said it had ended
    export.invocation_started("req-1")
    extensions.invoke("req-1", int((time.time() + 0.5) * 1000), ARN, None)
    wait_until(lambda: flushes.at, "the export at the deadline", timeout_s=5)
    wait_until(extensions.all_waiting, "the extension back at its next event")
    export.invocation_ended()  # the handler, late

    # When the next invocation runs
    extensions.invoke("req-2", int((time.time() + 10) * 1000), ARN, None)
    export.invocation_started("req-2")
    wait_until(lambda: not extensions.all_waiting(), "INVOKE handed over")
    ended = time.monotonic()
    export.invocation_ended()

    # Then its export waits for its own end, not the earlier one's
    wait_until(extensions.all_waiting, "the extension back at its next event")
    assert len(flushes.at) == 2
    assert flushes.at[1] >= ended


def test_without_an_extensions_api_it_steps_aside() -> None:
    # Given an address where nothing listens (an emulator without the Extensions API is the same)
    flushes = Flushes()

    # When the extension tries to register
    export = PostResponseExport.register(f"127.0.0.1:{free_port()}", flushes)

    # Then it does not: the caller keeps flushing before each response
    assert export is None
    assert not flushes.at
