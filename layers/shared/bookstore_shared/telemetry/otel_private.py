"""Every name of the OpenTelemetry packages that is not public API, in one place.

- The logs signal's SDK and OTLP exporter still live in underscored modules (`sdk._logs`,
  `_log_exporter`): that is where OpenTelemetry Python documents them while logs are in development.
- A metric exporter's temporality and aggregation preferences have no public getter; a wrapper
  exporter must hand the reader the same preferences as the exporter it wraps.

These packages are pinned to exact versions in requirements.in (opentelemetry-sdk and
opentelemetry-exporter-otlp-proto-http 1.45.1); a new version means reading these names against
its source first. Imported only when telemetry is on (the SDK is never imported otherwise).
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import AggregationTemporality, MetricExporter
from opentelemetry.sdk.metrics.view import Aggregation

__all__ = [
    "BatchLogRecordProcessor",
    "LogRecordExportResult",
    "LogRecordExporter",
    "LoggerProvider",
    "OTLPLogExporter",
    "ReadableLogRecord",
    "metric_preferences",
]


def metric_preferences(exporter: MetricExporter) -> tuple[dict[type, AggregationTemporality] | None, dict[type, Aggregation] | None]:
    """The temporality and aggregation `exporter` asks its reader for."""
    return exporter._preferred_temporality, exporter._preferred_aggregation
