"""The platform's view of each invocation, as spans of its trace: what the Lambda Telemetry API
tells the layer's extension (`extension.PostResponseExport`, subscribed to `platform` events).

For each invocation, from `platform.start`, `platform.runtimeDone` and `platform.report`:

    lambda invoke                      platform.start → + report.durationMs (what REPORT bills)
    ├── lambda runtime                 → + runtimeDone.durationMs (until the runtime's next /next);
    │                                  runtimeDone's own spans (responseLatency, runtimeOverhead…)
    │                                  as its `bookstore.lambda.<name>_ms` attributes
    └── lambda post-runtime            the extensions' time after the runtime (the export, here)

under the caller's span, beside the invocation's SERVER span (whose `faas.invocation_id` ties the
two). `platform.report` comes after the extension has asked for its next event, so Lambda delivers
it when the environment runs again: an invocation's platform spans leave with the next
invocation's export (or at SIGTERM). Nothing here reads card data: the events carry ids, times
and metrics only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext

TYPES = ("platform.start", "platform.runtimeDone", "platform.report")
KEPT = 64  # invocations whose events or SERVER span wait for the rest (older ones are dropped)


class PlatformView:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer
        self._lock = threading.Lock()
        self._anchors: OrderedDict[str, SpanContext] = OrderedDict()
        self._events: OrderedDict[str, dict[str, dict[str, Any]]] = OrderedDict()

    def note_invocation(self, request_id: str, anchor: SpanContext) -> None:
        """The span the invocation's platform spans go under (the caller's, or the SERVER span)."""
        with self._lock:
            self._anchors[request_id] = anchor
            _trim(self._anchors)
        self._emit_if_complete(request_id)

    def receive(self, events: list[dict[str, Any]]) -> None:
        """A batch from the Telemetry API."""
        touched = set()
        with self._lock:
            for event in events:
                record = event.get("record")
                if event.get("type") in TYPES and isinstance(record, dict) and "requestId" in record:
                    self._events.setdefault(record["requestId"], {})[event["type"]] = event
                    touched.add(record["requestId"])
            _trim(self._events)
        for request_id in touched:
            self._emit_if_complete(request_id)

    def _emit_if_complete(self, request_id: str) -> None:
        with self._lock:
            events = self._events.get(request_id, {})
            if request_id not in self._anchors or not all(kind in events for kind in TYPES):
                return
            anchor = self._anchors.pop(request_id)
            del self._events[request_id]
        self._emit(request_id, anchor, events)

    def _emit(self, request_id: str, anchor: SpanContext, events: dict[str, dict[str, Any]]) -> None:
        runtime_done = events["platform.runtimeDone"]["record"]
        report = events["platform.report"]["record"]
        metrics = report.get("metrics", {})
        start = _ns(events["platform.start"]["time"])
        end = start + _ms_ns(metrics.get("durationMs", 0))
        runtime_end = min(end, start + _ms_ns(runtime_done.get("metrics", {}).get("durationMs", 0)))
        attributes: dict[str, str | int] = {
            "faas.invocation_id": request_id,
            "bookstore.lambda.status": str(report.get("status", "")),
            "bookstore.lambda.billed_duration_ms": int(metrics.get("billedDurationMs", 0)),
            "bookstore.lambda.max_memory_used_mb": int(metrics.get("maxMemoryUsedMB", 0)),
        }
        caller = trace.set_span_in_context(NonRecordingSpan(anchor))
        invoke = self._tracer.start_span("lambda invoke", caller, start_time=start, attributes=attributes)
        inside = trace.set_span_in_context(invoke)
        # runtimeDone's spans as attributes, not spans: three spans per invocation, not six, as
        # every span costs its export (measured: the view's cost nearly halved)
        phases = {f"bookstore.lambda.{_snake(span['name'])}_ms": float(span["durationMs"]) for span in runtime_done.get("spans", [])}
        self._tracer.start_span("lambda runtime", inside, start_time=start, attributes=phases).end(runtime_end)
        self._tracer.start_span("lambda post-runtime", inside, start_time=runtime_end).end(end)
        invoke.end(end)


def _snake(name: str) -> str:
    """responseLatency → response_latency"""
    return "".join(f"_{letter.lower()}" if letter.isupper() else letter for letter in name)


def _trim(kept: OrderedDict[str, Any]) -> None:
    while len(kept) > KEPT:
        kept.popitem(last=False)


def _ns(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1_000_000_000)


def _ms_ns(milliseconds: float) -> int:
    return int(float(milliseconds) * 1_000_000)
