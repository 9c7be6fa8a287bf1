"""OpenTelemetry bootstrap shared by every function, configured through the standard `OTEL_*`
variables (defaults are applied only where a variable is unset).

What it sets up, once per execution environment:
- a TracerProvider and a MeterProvider whose Resource names the service and the function (`service.name`,
  `service.version`, `deployment.environment.name`, `faas.name`, `cloud.provider`, `cloud.region`);
- an OTLP/HTTP exporter to `OTEL_EXPORTER_OTLP_ENDPOINT`, behind a batch processor that is flushed
  at the end of every invocation, with a short export timeout so a collector that is down delays a
  response by a bounded time instead of the SDK's 10 s (export) or the instrumentation's 30 s (flush);
- the botocore, psycopg and httpx instrumentations;
- the Lambda handler instrumentation, which opens the invocation's SERVER span from the
  `traceparent` header that API Gateway passes through.

`OTEL_SDK_DISABLED=true` turns all of it off: no provider, no instrumentation, no wrapper.
"""

from __future__ import annotations

import os
import sys
import threading

import wrapt
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aws_lambda import (
    OTEL_INSTRUMENTATION_AWS_LAMBDA_FLUSH_TIMEOUT,
    _default_event_context_extractor,
    _instrument,
)
from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# Bounded waits: a down collector must not hold a response for long (values in milliseconds).
DEFAULT_FLUSH_TIMEOUT_MS = 2000
DEFAULT_EXPORT_TIMEOUT_S = 2.0

_configured = False
_lock = threading.Lock()


def telemetry_enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "false").strip().lower() != "true"


def configure_telemetry() -> None:
    """Sets up tracing for this process; a second call does nothing."""
    global _configured
    with _lock:
        if _configured or not telemetry_enabled():
            return
        provider = TracerProvider(resource=_resource())
        if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none":
            provider.add_span_processor(BatchSpanProcessor(_span_exporter()))
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=provider.resource, metric_readers=_metric_readers()))
        BotocoreInstrumentor().instrument()  # type: ignore[no-untyped-call]
        # The SQL commenter would put trace ids into the statements; the spans already link them.
        PsycopgInstrumentor().instrument(enable_commenter=False)
        HTTPXClientInstrumentor().instrument()
        _configured = True


def instrument_lambda_handler(module_name: str, function_name: str = "handler") -> None:
    """Wraps `module_name.function_name` with the OpenTelemetry AWS Lambda instrumentation.

    Call it on the last line of a handler module, after the handler is defined (as the
    instrumentation's own documentation does). Unlike `AwsLambdaInstrumentor().instrument()`,
    which wraps the single handler named by the `_HANDLER` variable, this wraps the module it is
    given, so the in-process tests, where all nine handlers share one process, see the same
    SERVER spans and context extraction as a deployed function.
    """
    if not telemetry_enabled():
        return
    configure_telemetry()
    module = sys.modules[module_name]
    if isinstance(getattr(module, function_name), wrapt.ObjectProxy):
        return  # already instrumented (a module imported twice by a test run)
    _instrument(
        module_name,
        function_name,
        _flush_timeout_ms(),
        event_context_extractor=_default_event_context_extractor,
    )


def _resource() -> Resource:
    # Resource.create also merges OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win.
    attributes: dict[str, str] = {"cloud.provider": "aws"}
    if region := os.environ.get("AWS_REGION"):
        attributes["cloud.region"] = region
    if function_name := os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        attributes["faas.name"] = function_name
    if function_version := os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"):
        attributes["faas.version"] = function_version
    return Resource.create(attributes)


def _span_exporter() -> OTLPSpanExporter:
    explicit = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" in os.environ or "OTEL_EXPORTER_OTLP_TIMEOUT" in os.environ
    return OTLPSpanExporter() if explicit else OTLPSpanExporter(timeout=DEFAULT_EXPORT_TIMEOUT_S)


def _metric_readers() -> list[MetricReader]:
    if os.environ.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower() == "none":
        return []
    explicit = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT" in os.environ or "OTEL_EXPORTER_OTLP_TIMEOUT" in os.environ
    exporter = OTLPMetricExporter() if explicit else OTLPMetricExporter(timeout=DEFAULT_EXPORT_TIMEOUT_S)
    # Exported at the end of every invocation by the flush; the period only matters while warm and busy.
    return [PeriodicExportingMetricReader(exporter)]


def _flush_timeout_ms() -> int:
    raw = os.environ.get(OTEL_INSTRUMENTATION_AWS_LAMBDA_FLUSH_TIMEOUT)
    return int(raw) if raw else DEFAULT_FLUSH_TIMEOUT_MS
