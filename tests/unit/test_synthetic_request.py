"""A load generator's requests are marked on every span, from one key of the caller's baggage, and
only with the value `true`: the rest of what a caller puts in baggage never reaches our spans."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bookstore_shared.telemetry.exporting import SyntheticRequestMarker


def span_attributes(entries: dict[str, str]) -> dict[str, object]:
    """The attributes of a span started under a context holding `entries` as baggage."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SyntheticRequestMarker())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    parent = context.Context()
    for key, value in entries.items():
        parent = baggage.set_baggage(key, value, parent)
    provider.get_tracer("test").start_span("GET /livros", context=parent).end()
    (span,) = exported.get_finished_spans()
    return dict(span.attributes or {})


def test_synthetic_request_true_marks_the_span() -> None:
    assert span_attributes({"synthetic_request": "true", "cliente": "maria"}) == {"synthetic_request": "true"}


@pytest.mark.parametrize("value", ["yes", "TRUE ", "<script>" + "y" * 4000])
def test_any_other_value_marks_nothing(value: str) -> None:
    assert span_attributes({"synthetic_request": value}) == {}


def test_no_baggage_marks_nothing() -> None:
    assert span_attributes({}) == {}
