"""Faults injected around an invocation, as the network or the platform would cause them: a
fault gets the real invocation and decides what to do with it — skip it and answer something
else, run it and answer late, or raise so the caller gets no answer at all.

    cloud.gateway.faults["CriarPagamentoFunction"] = some_fault
"""

from __future__ import annotations

from collections.abc import Callable

from localcloud.environment import InvocationReport, Outcome

Invoke = Callable[[], InvocationReport]
Fault = Callable[[Invoke], InvocationReport]


def function_error(_: Invoke) -> InvocationReport:
    """The function fails before doing anything: API Gateway answers 502."""
    return InvocationReport("fault", Outcome.ERROR, b'{"errorType": "InjectedFault"}', 0.0, None, 0)


def first_call_only(fault: Fault) -> Fault:
    """`fault` on the first invocation, the real one after."""
    calls = 0

    def once(invoke: Invoke) -> InvocationReport:
        nonlocal calls
        calls += 1
        return fault(invoke) if calls == 1 else invoke()

    return once
