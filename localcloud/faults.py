"""Faults injected around an invocation, as the network or the platform would cause them: a
fault gets the real invocation and decides what to do with it — skip it and answer something
else, run it and answer late, or raise so the caller gets no answer at all.

    cloud.gateway.faults["CriarPagamentoFunction"] = faults.function_error
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

import flask

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


def dropped_connection(_: Invoke) -> InvocationReport:
    """Nothing answers: the caller's connection is closed without a response (the function never runs)."""
    _client_socket().shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("fault: the connection was dropped")


def answer_after_the_caller_gave_up(deadline_s: float = 60.0) -> Fault:
    """The function does its work, and its answer is held until the caller stops waiting (closes
    its connection): the caller cannot know what happened."""

    def fault(invoke: Invoke) -> InvocationReport:
        report = invoke()
        connection = _client_socket()
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            readable, _, _ = select.select([connection], [], [], 0.05)
            if readable and not connection.recv(1, socket.MSG_PEEK):
                break  # the caller closed its side
        return report

    return fault


def _client_socket() -> socket.socket:
    """The connection of the request being served (werkzeug's development server puts it there)."""
    connection: socket.socket = flask.request.environ["werkzeug.socket"]
    return connection
