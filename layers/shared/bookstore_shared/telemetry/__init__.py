"""OpenTelemetry for every Bookstore function, configured through the standard `OTEL_*`
variables (defaults apply only where a variable is unset). Once per execution environment:

- Tracer, Meter and Logger providers whose Resource names the service and the function
  (`service.name`, `service.version`, `deployment.environment.name`, `faas.name`,
  `cloud.provider`, `cloud.region`), exporting OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`;
- the botocore, psycopg and httpx instrumentations, and the AWS Lambda instrumentation around
  each handler, which opens the invocation's SERVER span from the `traceparent` header and, before
  the invocation returns, flushes spans, metrics and logs (side by side, see `FlushAtOnce`);
- the cold start as spans (see `init_phase`), and SERVER spans named after the route template,
  with `faas.coldstart` and an error status on 5xx;
- short, bounded waits: a 0.5 s export timeout and a 1 s flush timeout by default when the export
  is on the response's path (`flush`), 2 s and 2.5 s when it is not (`extension`; never past the
  invocation's deadline) — the SDK's are 10 s and the instrumentation's 30 s; after a failed export
  an environment leaves the collector alone for 10 s instead of waiting for it on every invocation.

`OTEL_SDK_DISABLED=true` turns all of it off. `BOOKSTORE_TELEMETRY_EXPORT` says when an
invocation's telemetry leaves: `extension` (the default: after the response, by an internal Lambda
extension, see `extension`), `flush` (before the response) or `none` (no per-invocation export: the
lesson of what a frozen environment does to spans still in a buffer).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace
from opentelemetry.trace import StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

# Only the light API is imported here. The SDK, the exporters and the instrumentations are
# imported when telemetry is configured, so OTEL_SDK_DISABLED=true also saves their import time
# on every cold start (what the benchmark compares).
if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

    from bookstore_shared.telemetry.exporting import CollectorBreaker, FlushAtOnce
    from bookstore_shared.telemetry.extension import PostResponseExport
    from bookstore_shared.telemetry.init_phase import InitPhaseBuffer
    from bookstore_shared.telemetry.otel_private import LoggerProvider
    from bookstore_shared.telemetry.platform_view import PlatformView

EXPORT_MODES = ("extension", "flush", "none")
# Defaults per export mode. On the response's path (`flush`) every millisecond is the caller's;
# after the response (`extension`) a collector slowed by a burst of cold starts gets more time
# before its batch counts as failed (and the breaker drops the next 10 s of telemetry).
DEFAULT_EXPORT_TIMEOUT_S = {"extension": 2.0, "flush": 0.5, "none": 0.5}
DEFAULT_FLUSH_TIMEOUT_MS = {"extension": 2500, "flush": 1000, "none": 1000}
SIGTERM_FLUSH_MS = 400  # within the 500 ms Lambda gives a runtime with an internal extension

_lock = threading.Lock()
_configured = False
_buffer: InitPhaseBuffer | None = None
_logger_provider: LoggerProvider | None = None
_platform_view: PlatformView | None = None
_extension: PostResponseExport | None = None
_tracer = trace.get_tracer("bookstore")
_cold = True


def telemetry_enabled() -> bool:
    return _flag("OTEL_SDK_DISABLED") is not True


def configure_telemetry() -> None:
    """Sets up telemetry for this process and opens the init phase; a second call does nothing."""
    global _configured, _buffer, _logger_provider, _tracer, _cold
    with _lock:
        if _configured or not telemetry_enabled():
            return
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from bookstore_shared.telemetry import init_phase
        from bookstore_shared.telemetry.exporting import CollectorBreaker, GuardedLogExporter, GuardedSpanExporter, SyntheticRequestMarker
        from bookstore_shared.telemetry.otel_private import BatchLogRecordProcessor, LoggerProvider, OTLPLogExporter

        resource = _resource()
        provider = TracerProvider(resource=resource)
        breaker = CollectorBreaker()
        delegate = BatchSpanProcessor(GuardedSpanExporter(OTLPSpanExporter(timeout=_timeout("TRACES")), breaker))
        # A provisioned environment's init ran ahead of any request: its spans are a trace of their
        # own, not part of the first request's, and that request is not a cold start.
        provisioned = os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == "provisioned-concurrency"
        _cold = not provisioned
        _buffer = init_phase.InitPhaseBuffer(delegate, hold=not provisioned)
        provider.add_span_processor(SyntheticRequestMarker())
        if _exporter_enabled("OTEL_TRACES_EXPORTER"):
            provider.add_span_processor(_buffer)
        trace.set_tracer_provider(provider)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=_metric_readers(breaker)))
        _logger_provider = LoggerProvider(resource=resource)
        if _exporter_enabled("OTEL_LOGS_EXPORTER"):
            exporter = GuardedLogExporter(OTLPLogExporter(timeout=_timeout("LOGS")), breaker)
            _logger_provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
        _tracer = trace.get_tracer("bookstore")
        init_phase.begin(_tracer, in_lambda="AWS_LAMBDA_RUNTIME_API" in os.environ)
        BotocoreInstrumentor().instrument()  # type: ignore[no-untyped-call]
        # The SQL commenter would put trace ids into the statements; the spans already link them.
        PsycopgInstrumentor().instrument(enable_commenter=False)
        HTTPXClientInstrumentor().instrument()
        _configured = True


def step(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span for one step of the cold start (settings, secret fetch, database connection)."""
    return _tracer.start_as_current_span(name, attributes=attributes) if _configured else nullcontext()


def export_logs(logger_name: str) -> None:
    """Sends what `logger_name` logs to the OTLP endpoint too, with its trace context."""
    if _logger_provider is None:
        return
    from opentelemetry.instrumentation.logging.handler import LoggingHandler

    class OtlpLogHandler(LoggingHandler):
        def flush(self) -> None:
            """Nothing: each invocation flushes the provider (the base class would start a thread,
            which fails when `logging` flushes its handlers at interpreter exit)."""

    logging.getLogger(logger_name).addHandler(OtlpLogHandler(level=logging.INFO, logger_provider=_logger_provider))


def instrument_lambda_handler(module_name: str) -> None:
    """Ends the init phase and, in the execution environment whose `_HANDLER` names this module,
    wraps its handler with the OpenTelemetry AWS Lambda instrumentation. Call it on the handler
    module's last line, after the handler is defined, as the instrumentation's documentation does.
    A handler module imported anywhere else (a unit test calling handlers in-process) is left as
    it is: the instrumentation is about a Lambda invocation, and there is none."""
    if not _configured:
        return
    from opentelemetry.instrumentation.aws_lambda import AwsLambdaInstrumentor

    from bookstore_shared.telemetry import init_phase
    from bookstore_shared.telemetry.exporting import AlreadyFlushed, FlushAtOnce

    init_phase.end()
    if os.environ.get("_HANDLER", "").rsplit(".", 1)[0] != module_name:
        return
    meter_provider = metrics.get_meter_provider()
    others = [meter_provider] + ([_logger_provider] if _logger_provider is not None else [])
    # The instrumentation reads OTEL_INSTRUMENTATION_AWS_LAMBDA_FLUSH_TIMEOUT; ours is the default.
    mode = export_mode()
    os.environ.setdefault("OTEL_INSTRUMENTATION_AWS_LAMBDA_FLUSH_TIMEOUT", str(DEFAULT_FLUSH_TIMEOUT_MS[mode]))
    flush_timeout_ms = int(os.environ["OTEL_INSTRUMENTATION_AWS_LAMBDA_FLUSH_TIMEOUT"])
    tracer_provider = FlushAtOnce(trace.get_tracer_provider(), others, mode)
    if mode == "extension":
        global _platform_view, _extension
        from bookstore_shared.telemetry.extension import PostResponseExport
        from bookstore_shared.telemetry.platform_view import PlatformView

        view = PlatformView(trace.get_tracer("bookstore.lambda.platform"))
        tracer_provider.extension = PostResponseExport.register(
            os.environ["AWS_LAMBDA_RUNTIME_API"], lambda left_ms: tracer_provider.flush_now(min(flush_timeout_ms, left_ms)), view
        )
        _extension = tracer_provider.extension
        _platform_view = view if _extension is not None else None
    _flush_on_sigterm(tracer_provider, flush_timeout_ms)
    AwsLambdaInstrumentor().instrument(tracer_provider=tracer_provider, meter_provider=AlreadyFlushed(meter_provider))


def export_mode() -> str:
    """BOOKSTORE_TELEMETRY_EXPORT, checked at cold start: a typo fails the init, it is not ignored."""
    mode = os.environ.get("BOOKSTORE_TELEMETRY_EXPORT", "extension").strip().lower()
    if mode not in EXPORT_MODES:
        raise ValueError(f"BOOKSTORE_TELEMETRY_EXPORT={mode!r}: expected one of {', '.join(EXPORT_MODES)}")
    return mode


def _flush_on_sigterm(tracer_provider: FlushAtOnce, timeout_ms: int) -> None:
    """Lambda sends the runtime SIGTERM before it ends an environment that has extensions (ours is
    one): what is still buffered (an export that failed, metrics between periods) leaves then.
    The Python 3.12 runtime client polls for events in a thread, so the main thread takes signals."""
    import signal
    import sys

    def terminated(signum: int, frame: object) -> None:
        tracer_provider.flush_now(min(timeout_ms, SIGTERM_FLUSH_MS))
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminated)


@contextmanager
def invocation(event: dict[str, Any]) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Runs inside the span of one invocation: marks the cold start and adopts the init spans;
    for an API Gateway request, names the span after the route template, and the callback
    records the response's status."""
    global _cold
    span = trace.get_current_span()
    cold, _cold = _cold, False
    if span.is_recording():
        span.set_attribute("faas.coldstart", cold)
        if "httpMethod" in event:
            method, route = event["httpMethod"], event.get("resource", "")
            span.update_name(f"{method} {route}")
            span.set_attributes({"faas.trigger": "http", "http.route": route, "http.request.method": method})
        elif event.get("detail-type") == "Scheduled Event":
            span.set_attribute("faas.trigger", "timer")
        if cold and _buffer is not None:
            _buffer.adopt(span)
        request_id = (getattr(span, "attributes", None) or {}).get("faas.invocation_id")
        if _extension is not None and request_id:
            _extension.invocation_started(str(request_id))
        if _platform_view is not None and request_id:
            _note_for_platform_view(str(request_id), span, _platform_view)

    def finish(response: dict[str, Any]) -> None:
        status = int(response.get("statusCode", 0))
        span.set_attribute("http.response.status_code", status)
        if status >= 500:  # server errors are the function's; 4xx are the caller's
            span.set_status(StatusCode.ERROR, f"HTTP {status}")

    yield finish


def _note_for_platform_view(request_id: str, span: trace.Span, view: PlatformView) -> None:
    """The platform's spans of this invocation go beside its SERVER span: under the caller's span."""
    parent = getattr(span, "parent", None)
    view.note_invocation(request_id, parent if isinstance(parent, trace.SpanContext) and parent.is_valid else span.get_span_context())


def traceparent() -> str | None:
    """The current span as a W3C `traceparent`, to store beside what it created (None when no
    span is recording): a later trace can link back to it (see `linked_span`)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


@contextmanager
def linked_span(name: str, linked_traceparent: str | None, attributes: dict[str, Any]) -> Iterator[trace.Span]:
    """A span of the current trace that links (a span link, not a parent) to the span a stored
    `traceparent` names: work done later for something another trace started."""
    links = []
    if linked_traceparent:
        carrier = {"traceparent": linked_traceparent}
        linked = trace.get_current_span(TraceContextTextMapPropagator().extract(carrier)).get_span_context()
        if linked.is_valid:
            links.append(trace.Link(linked))
    with _tracer.start_as_current_span(name, links=links, attributes=attributes) as span:
        yield span


def meter() -> metrics.Meter:
    return metrics.get_meter("bookstore")


def current_span() -> trace.Span:
    return trace.get_current_span()


def _resource() -> Any:
    from opentelemetry.sdk.resources import Resource

    # Resource.create also merges OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win.
    attributes: dict[str, str] = {"cloud.provider": "aws"}
    if region := os.environ.get("AWS_REGION"):
        attributes["cloud.region"] = region
    if function_name := os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        attributes["faas.name"] = function_name
    if function_version := os.environ.get("AWS_LAMBDA_FUNCTION_VERSION"):
        attributes["faas.version"] = function_version
    return Resource.create(attributes)


def _timeout(signal: str) -> float | None:
    """Ours when no OTEL_EXPORTER_OTLP_*TIMEOUT is set; None lets the exporter read the variable."""
    explicit = f"OTEL_EXPORTER_OTLP_{signal}_TIMEOUT" in os.environ or "OTEL_EXPORTER_OTLP_TIMEOUT" in os.environ
    return None if explicit else DEFAULT_EXPORT_TIMEOUT_S[export_mode()]


def _metric_readers(breaker: CollectorBreaker) -> list[MetricReader]:
    if not _exporter_enabled("OTEL_METRICS_EXPORTER"):
        return []
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    from bookstore_shared.telemetry.exporting import GuardedMetricExporter

    # Exported at the end of every invocation by the flush; the period only matters while warm and busy.
    return [PeriodicExportingMetricReader(GuardedMetricExporter(OTLPMetricExporter(timeout=_timeout("METRICS")), breaker))]


def _exporter_enabled(variable: str) -> bool:
    return os.environ.get(variable, "otlp").strip().lower() != "none"


def _flag(variable: str) -> bool | None:
    value = os.environ.get(variable)
    return None if value is None else value.strip().lower() in {"1", "true", "yes", "on"}
