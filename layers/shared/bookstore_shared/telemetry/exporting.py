"""Exporting without holding requests hostage: a collector that is down costs one short,
bounded wait, then the environment stops trying for a while instead of paying it on every
invocation; and the switch that skips the per-invocation flush, for the lesson on freezes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_logger = logging.getLogger(__name__)


class FailFastSpanExporter(SpanExporter):
    """After a failed export, drops batches for `pause_s` (saying how many) instead of retrying
    on every invocation: with the collector down, each request would otherwise wait for it."""

    def __init__(self, delegate: SpanExporter, pause_s: float = 10.0) -> None:
        self._delegate = delegate
        self._pause_s = pause_s
        self._paused_until = 0.0
        self._dropped = 0
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if time.monotonic() < self._paused_until:
                self._dropped += len(spans)
                return SpanExportResult.FAILURE
            dropped, self._dropped = self._dropped, 0
        if dropped:
            _logger.warning("dropped %d spans while the collector was unreachable", dropped)
        result = self._delegate.export(spans)
        if result is SpanExportResult.FAILURE:
            with self._lock:
                self._paused_until = time.monotonic() + self._pause_s
            _logger.warning("span export failed; not retrying for %.0f s", self._pause_s)
        return result

    def shutdown(self) -> None:
        self._delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._delegate.force_flush(timeout_millis)


class WithoutFlush:
    """A provider whose `force_flush` does nothing: what the Lambda instrumentation flushes at the
    end of each invocation when `BOOKSTORE_SKIP_FLUSH=true`. Spans then wait for the batch
    processor's timer, which a frozen environment never reaches: they arrive late, or never."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
