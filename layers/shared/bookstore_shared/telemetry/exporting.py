"""Exporting without holding requests hostage: a collector that is down or hangs costs one
short, bounded wait, then the environment stops trying for a while instead of paying it on
every invocation; and when the end-of-invocation export happens (`BOOKSTORE_TELEMETRY_EXPORT`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from opentelemetry import baggage
from opentelemetry.context import Context
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Span

from bookstore_shared.telemetry.extension import PostResponseExport
from bookstore_shared.telemetry.otel_private import LogRecordExporter, LogRecordExportResult, ReadableLogRecord, metric_preferences

_logger = logging.getLogger(__name__)
SYNTHETIC_REQUEST = "synthetic_request"  # the baggage key of a load generator's requests


class SyntheticRequestMarker(SpanProcessor):
    """A load generator's requests say so in their baggage (`synthetic_request=true`, as the
    OpenTelemetry Demo's does): every span of their traces gets `synthetic_request=true`, to tell
    them from buyers'. Not the Contrib's BaggageSpanProcessor, which copies a key's value as the
    caller sent it: baggage is the caller's, so only that key, and only the value `true`, reach
    our spans (a probe's 4 KB value would otherwise be on every span)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if baggage.get_baggage(SYNTHETIC_REQUEST, parent_context) == "true":
            span.set_attribute(SYNTHETIC_REQUEST, "true")


class CollectorBreaker:
    """Shared by the three exporters of an environment: after a failed export, the collector is
    left alone for `pause_s`, and the batches of that time are dropped (and counted) instead of
    making every invocation wait for a collector that is down."""

    def __init__(self, pause_s: float = 10.0) -> None:
        self._pause_s = pause_s
        self._paused_until = 0.0
        self._dropped = 0
        self._lock = threading.Lock()

    def allow(self, items: int) -> bool:
        with self._lock:
            if time.monotonic() < self._paused_until:
                self._dropped += items
                return False
            dropped, self._dropped = self._dropped, 0
        if dropped:
            _logger.warning("dropped %d telemetry items while the collector was unreachable", dropped)
        return True

    def record(self, succeeded: bool) -> None:
        if not succeeded:
            with self._lock:
                self._paused_until = time.monotonic() + self._pause_s
            _logger.warning("telemetry export failed; not trying again for %.0f s", self._pause_s)


class GuardedSpanExporter(SpanExporter):
    def __init__(self, delegate: SpanExporter, breaker: CollectorBreaker) -> None:
        self._delegate, self._breaker = delegate, breaker

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self._breaker.allow(len(spans)):
            return SpanExportResult.FAILURE
        result = self._delegate.export(spans)
        self._breaker.record(result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self._delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._delegate.force_flush(timeout_millis)


class GuardedMetricExporter(MetricExporter):
    def __init__(self, delegate: MetricExporter, breaker: CollectorBreaker) -> None:
        # The reader asks the exporter for its temporality and aggregation preferences.
        super().__init__(*metric_preferences(delegate))
        self._delegate, self._breaker = delegate, breaker

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        if not self._breaker.allow(len(metrics_data.resource_metrics)):
            return MetricExportResult.FAILURE
        result = self._delegate.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self._breaker.record(result is MetricExportResult.SUCCESS)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._delegate.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._delegate.shutdown(timeout_millis=timeout_millis, **kwargs)


class GuardedLogExporter(LogRecordExporter):
    def __init__(self, delegate: LogRecordExporter, breaker: CollectorBreaker) -> None:
        self._delegate, self._breaker = delegate, breaker

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if not self._breaker.allow(len(batch)):
            return LogRecordExportResult.FAILURE
        result = self._delegate.export(batch)
        self._breaker.record(result.name == "SUCCESS")
        return result

    def shutdown(self) -> None:
        self._delegate.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._delegate.force_flush(timeout_millis)


class FlushAtOnce:
    """What the Lambda instrumentation gets as its tracer provider, so that its end-of-invocation
    flush does what `BOOKSTORE_TELEMETRY_EXPORT` says:

    - `flush`: spans, metrics and logs flushed side by side (one wait instead of three in a row,
      within one timeout), before the response;
    - `extension`: handed to the internal extension (`extension.PostResponseExport`), which
      exports them after the response (while it is not registered or working: as `flush`);
    - `none`: nothing; spans then wait for the batch processor's timer, which a frozen
      environment never reaches (the lesson on freezes)."""

    def __init__(self, tracer_provider: Any, others: list[Any], mode: str) -> None:
        self._tracer_provider = tracer_provider
        self._others = others
        self._mode = mode
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(others)), thread_name_prefix="flush")
        self.extension: PostResponseExport | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracer_provider, name)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if self._mode == "none":
            return True
        if self._mode == "extension" and self.extension is not None and self.extension.working:
            self.extension.invocation_ended()
            return True
        return self.flush_now(timeout_millis)

    def flush_now(self, timeout_millis: int = 30000) -> bool:
        """Spans, metrics and logs, side by side, within one timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        pending = [self._pool.submit(provider.force_flush, timeout_millis) for provider in self._others]
        flushed = bool(self._tracer_provider.force_flush(timeout_millis))
        for future in pending:
            try:
                flushed = bool(future.result(timeout=max(0.0, deadline - time.monotonic()))) and flushed
            except TimeoutError:
                flushed = False
        return flushed


class AlreadyFlushed:
    """Stands for a provider that `FlushAtOnce` flushes: the instrumentation's own flush of it is a no-op."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
