"""The platform's view of an invocation (Telemetry API events) as spans of its trace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanContext, TraceFlags

from bookstore_shared.telemetry.platform_view import PlatformView

EVENTS = Path(__file__).with_name("telemetry_api_events.json")
REQUEST_ID = "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
CALLER = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
MS = 1_000_000


def telemetry_api_events() -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(EVENTS.read_text())
    return events


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def view(exporter: InMemorySpanExporter) -> PlatformView:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return PlatformView(provider.get_tracer("test"))


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


def test_an_invocations_platform_events_become_spans_under_its_caller(view: PlatformView, exporter: InMemorySpanExporter) -> None:
    # Given the invocation's SERVER span was noted under its caller's span
    view.note_invocation(REQUEST_ID, CALLER)

    # When the Telemetry API delivers its start, runtimeDone and report
    view.receive(telemetry_api_events())

    # Then they are one subtree of the caller's trace, timed as Lambda measured them
    spans = by_name(exporter.get_finished_spans())
    assert set(spans) == {"lambda invoke", "lambda runtime", "lambda post-runtime"}
    invoke, runtime, post = spans["lambda invoke"], spans["lambda runtime"], spans["lambda post-runtime"]
    assert {span.context.trace_id for span in spans.values()} == {CALLER.trace_id}
    assert invoke.parent is not None
    assert invoke.parent.span_id == CALLER.span_id
    assert runtime.parent is not None
    assert post.parent is not None
    assert runtime.parent.span_id == post.parent.span_id == invoke.context.span_id
    assert invoke.end_time is not None
    assert invoke.start_time is not None
    assert invoke.end_time - invoke.start_time == 52 * MS
    assert runtime.end_time == post.start_time == invoke.start_time + 40 * MS
    assert post.end_time == invoke.end_time
    assert invoke.attributes is not None
    assert invoke.attributes["faas.invocation_id"] == REQUEST_ID
    assert invoke.attributes["bookstore.lambda.billed_duration_ms"] == 53
    assert invoke.attributes["bookstore.lambda.max_memory_used_mb"] == 96
    # And runtimeDone's own spans are the runtime span's attributes
    assert runtime.attributes is not None
    assert runtime.attributes["bookstore.lambda.response_latency_ms"] == 38.0
    assert runtime.attributes["bookstore.lambda.runtime_overhead_ms"] == 1.5


def test_events_that_arrive_before_the_server_span_wait_for_it(view: PlatformView, exporter: InMemorySpanExporter) -> None:
    # Given the events came first
    view.receive(telemetry_api_events())
    assert not exporter.get_finished_spans()

    # When the invocation is noted, they become spans
    view.note_invocation(REQUEST_ID, CALLER)
    assert "lambda invoke" in by_name(exporter.get_finished_spans())


def test_an_invocation_without_its_report_yet_has_no_spans(view: PlatformView, exporter: InMemorySpanExporter) -> None:
    view.note_invocation(REQUEST_ID, CALLER)
    view.receive([event for event in telemetry_api_events() if event["type"] != "platform.report"])
    assert not exporter.get_finished_spans()
