"""JSON log lines that carry the trace: `trace_id` and `span_id` of the span they were written in,
so a log line leads to its trace and a trace to its log lines."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from opentelemetry import trace


class TraceContextFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            log["trace_id"] = format(context.trace_id, "032x")
            log["span_id"] = format(context.span_id, "016x")
        return super().serialize(log)
