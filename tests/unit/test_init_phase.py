"""The cold start's spans: held for the first invocation's trace, unless the environment was
provisioned (its init was nobody's request)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bookstore_shared.telemetry import init_phase


@pytest.mark.parametrize(("hold", "exported_during_init"), [(True, 0), (False, 2)])
def test_init_spans_wait_for_the_first_invocation_only_when_held(hold: bool, exported_during_init: int) -> None:
    # Given an init phase (its `init` span and the `imports` step)
    exporter = InMemorySpanExporter()
    buffer = init_phase.InitPhaseBuffer(SimpleSpanProcessor(exporter), hold=hold)
    provider = TracerProvider()
    provider.add_span_processor(buffer)
    tracer = provider.get_tracer("test")
    init_phase.begin(tracer, in_lambda=False)

    # When the init ends
    init_phase.end()

    # Then held spans wait for the first invocation to adopt them; a provisioned init's leave as their own trace
    assert len(exporter.get_finished_spans()) == exported_during_init
    with tracer.start_as_current_span("GET /livros/{id}") as server:
        assert buffer.adopt(server) == (2 if hold else 0)
    names = [span.name for span in exporter.get_finished_spans()]
    assert sorted(names) == ["GET /livros/{id}", "imports", "init"]
