"""The cold start as spans, in the trace of the request that waited for it.

An environment's init (interpreter start, imports, settings, secret fetch, database connection)
runs before any request exists, so it has no trace to belong to. Its spans, the instrumentations'
included (the botocore span of the secret fetch), are held back here and, on the first
invocation, moved into that invocation's trace: the `init` span becomes a sibling just before the
SERVER span, under the caller's span, so the caller's wait is accounted for. Warm invocations
have no init spans.
"""

from __future__ import annotations

import os
import threading
import time

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext, TraceFlags


def process_start_ns() -> int:
    """When this process started (the beginning of the cold start), to the clock tick (10 ms):
    its start in ticks since boot, from /proc, set against the time since boot now."""
    try:
        with open("/proc/self/stat") as stat:
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        # The tick says when, to within one tick: take its middle (error ±5 ms, never a whole tick early).
        age_s = time.clock_gettime(time.CLOCK_BOOTTIME) - (ticks + 0.5) / os.sysconf("SC_CLK_TCK")
        return time.time_ns() - int(age_s * 1e9)
    except (OSError, ValueError, IndexError):
        return time.time_ns()


class InitPhaseBuffer(SpanProcessor):
    """Passes spans to `delegate`, except those that end during init: those wait for `adopt`
    (unless `hold` is False: a provisioned environment's init is a trace of its own)."""

    def __init__(self, delegate: SpanProcessor, hold: bool = True) -> None:
        self._delegate = delegate
        self._held: list[ReadableSpan] | None = [] if hold else None  # None once the first invocation adopted them
        self._lock = threading.Lock()

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        self._delegate.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        with self._lock:
            if self._held is not None and span.context is not None and self._is_init(span):
                self._held.append(span)
                return
        self._delegate.on_end(span)

    def adopt(self, server: trace.Span) -> int:
        """Moves the init spans into the trace of `server` (the first invocation's SERVER span)."""
        with self._lock:
            held, self._held = self._held or [], None
        server_context = server.get_span_context()
        parent = getattr(server, "parent", None)
        # Under the caller's span when there is one (a sibling before SERVER), else under SERVER.
        anchor = parent.span_id if isinstance(parent, SpanContext) and parent.is_valid else server_context.span_id
        for span in held:
            self._delegate.on_end(_moved(span, server_context.trace_id, anchor))
        return len(held)

    def shutdown(self) -> None:
        self._delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._delegate.force_flush(timeout_millis)

    def _is_init(self, span: ReadableSpan) -> bool:
        return span.context is not None and span.context.trace_id == _init_trace_id


_init_trace_id: int | None = None
_init_span: Span | None = None
_init_token: object | None = None


def begin(tracer: trace.Tracer, in_lambda: bool) -> None:
    """Opens the `init` span (from the process start when in Lambda) and makes it current."""
    global _init_trace_id, _init_span, _init_token
    started = process_start_ns() if in_lambda else time.time_ns()
    span = tracer.start_span("init", start_time=started, attributes={"faas.coldstart": True})
    assert isinstance(span, Span)
    _init_span = span
    _init_trace_id = span.get_span_context().trace_id
    _init_token = context_api.attach(trace.set_span_in_context(span))
    imports = tracer.start_span("imports", start_time=started)
    imports.set_attribute("bookstore.init.phase", "runtime start and module imports")
    imports.end()


def end() -> None:
    """Closes the `init` span: the handler module has finished importing."""
    global _init_span, _init_token
    if _init_token is not None:
        context_api.detach(_init_token)  # type: ignore[arg-type]
        _init_token = None
    if _init_span is not None:
        _init_span.end()
        _init_span = None


def _moved(span: ReadableSpan, trace_id: int, anchor: int) -> ReadableSpan:
    assert span.context is not None
    context = SpanContext(trace_id, span.context.span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent_id = span.parent.span_id if span.parent is not None else anchor
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=SpanContext(trace_id, parent_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)),
        resource=span.resource,
        attributes=span.attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
