"""Ways a dependency fails, for `Gateway.faults`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

Invoke = Callable[[], dict[str, Any]]

DEPENDENCY_TIMEOUT_SECONDS = 3.0
TOO_LATE_SECONDS = DEPENDENCY_TIMEOUT_SECONDS + 0.5


def answers_500(_: Invoke) -> dict[str, Any]:
    """The function errors before doing anything (API Gateway's answer to a crashed function)."""
    return {"statusCode": 502, "body": '{"message": "Internal server error"}'}


def drops_connection(_: Invoke) -> dict[str, Any]:
    """Nothing answers: the connection is closed without a response."""
    raise ConnectionAbortedError("fault injected by the test")


def works_then_hangs(seconds: float = TOO_LATE_SECONDS) -> Callable[[Invoke], dict[str, Any]]:
    """The function does its work, then the answer comes too late: the caller cannot know."""

    def fault(real: Invoke) -> dict[str, Any]:
        response = real()
        time.sleep(seconds)
        return response

    return fault


def first_call_only(fault: Callable[[Invoke], dict[str, Any]]) -> Callable[[Invoke], dict[str, Any]]:
    calls = 0

    def once(real: Invoke) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return fault(real) if calls == 1 else real()

    return once
