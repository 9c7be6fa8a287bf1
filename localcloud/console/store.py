"""What the console shows, read from the telemetry files as they grow: OTLP/JSON lines in the
OpenTelemetry Collector `file` exporter's format (`traces.jsonl`, `metrics.jsonl`, `logs.jsonl`),
as the local cloud's receiver writes them and as a real Collector does.

Each file is followed from where the last read stopped (a line still being written waits for the
next read); a file that shrank or was replaced is read again from its start. Memory is bounded:
the newest traces, log records and metric points are kept, the oldest dropped.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, deque
from collections.abc import Container, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from localcloud.traceview import Span, Trace, attributes, spans_in

SIGNALS = ("traces", "metrics", "logs")
FIRST_READ_BYTES = 32 * 1024 * 1024  # of a long file, the console starts with its end
READ_BYTES = 16 * 1024 * 1024  # at most this much per file per refresh: a page never waits long
MAX_TRACES = 2_000  # an order's trace holds about 40 spans; a span costs about 1.6 KB here
MAX_LOGS = 50_000
MAX_POINTS = 200_000
INIT_SPAN = "init"
INVOKE_SPAN = "lambda invoke"  # the platform's view of an invocation, with REPORT's numbers
MAX_MEMORY_SUFFIX = ".lambda.max_memory_used_mb"
POST_RUNTIME_SPAN = "lambda post-runtime"


class FileTail:
    """The complete lines appended to a file since the last call."""

    def __init__(self, path: Path, first_read_bytes: int = FIRST_READ_BYTES) -> None:
        self.path = path
        self._first_read_bytes = first_read_bytes
        self._inode: int | None = None
        self._offset = 0
        self._mid_line = False  # the bytes at the offset end a line not to be read (cut, or too long)

    def read(self, limit: int = READ_BYTES) -> tuple[bool, list[bytes]]:
        """(whether the file was replaced or cut since the last read, the new complete lines). A
        line longer than `limit` is skipped: it could never be read whole, and would stop the
        lines after it."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False, []
        replaced = False
        if self._inode != stat.st_ino or stat.st_size < self._offset:
            replaced = self._inode is not None
            self._inode = stat.st_ino
            self._offset = max(0, stat.st_size - self._first_read_bytes)
            # Started in the middle of the file: from the byte before, so that a line starting
            # right at the offset (that byte a newline) is kept.
            self._mid_line = self._offset > 0
            if self._mid_line:
                self._offset -= 1
        with self.path.open("rb") as file:
            file.seek(self._offset)
            data = file.read(limit)
        if self._mid_line:  # drop up to the first line's start
            cut = data.find(b"\n")
            if cut < 0:
                self._offset += len(data)
                return replaced, []
            self._offset += cut + 1
            data = data[cut + 1 :]
            self._mid_line = False
        complete = data[: data.rfind(b"\n") + 1]
        if not complete and len(data) >= limit:  # a line longer than a read: skipped, up to its end
            self._offset += len(data)
            self._mid_line = True
            return replaced, []
        self._offset += len(complete)
        return replaced, complete.splitlines()


def _number(point: dict[str, Any]) -> float:
    """A data point's or exemplar's value (OTLP/JSON sends integers as strings)."""
    return float(point.get("asDouble", point.get("asInt", 0)))


def _max_memory(attributes: dict[str, Any]) -> float | None:
    """REPORT's Max Memory Used, as a layer's extension puts it on the platform's span (under its
    application's prefix: Bookstore's is `bookstore.lambda.max_memory_used_mb`)."""
    found = next((value for key, value in attributes.items() if key.endswith(MAX_MEMORY_SUFFIX)), None)
    return float(found) if isinstance(found, int | float) else None


def _outcome(span: Span) -> tuple[int | None, bool]:
    """A request's HTTP status (the new convention's attribute, or the old one's), and whether it
    failed: a 5xx, or its span's error status."""
    status = span.attributes.get("http.response.status_code", span.attributes.get("http.status_code"))
    code = status if isinstance(status, int) and not isinstance(status, bool) else None
    return code, span.error or (code is not None and code >= 500)


def function_of(resource: dict[str, Any]) -> str:
    return str(resource.get("faas.name") or resource.get("service.name") or "?")


@dataclass(frozen=True)
class Invocation:
    """A function's SERVER span: one request to one route."""

    time_ns: int
    service: str
    route: str  # the span's name: method and route template
    status: int | None
    error: bool
    duration_ms: float
    cold: bool
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class Sample:
    """A number at a moment, with the trace it came from: an init's duration, a REPORT's memory."""

    time_ns: int
    series: str
    value: float
    trace_id: str
    span_id: str


_Traced = TypeVar("_Traced", Invocation, Sample)


@dataclass(frozen=True)
class Exemplar:
    time_ns: int
    value: float
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class MetricPoint:
    """How much a metric grew in one export of one environment (cumulative sums become deltas):
    a sum's increase, or a histogram's count and sum."""

    time_ns: int
    name: str
    unit: str
    attributes: tuple[tuple[str, Any], ...]
    function: str
    count: float
    total: float
    exemplars: tuple[Exemplar, ...]

    def attribute(self, key: str) -> str:
        return str(dict(self.attributes).get(key, ""))


@dataclass(frozen=True)
class LogRecord:
    time_ns: int
    service: str
    function: str
    severity: str
    severity_number: int
    body: str
    attributes: dict[str, Any]
    trace_id: str
    span_id: str


@dataclass
class TraceSummary:
    trace_id: str
    start_ns: int
    duration_ms: float
    name: str  # the entry span's: the route of the first request
    service: str
    status: int | None
    error: bool
    cold: bool
    services: list[str]
    spans: int


@dataclass(frozen=True)
class TraceQuery:
    service: str = ""
    route: str = ""
    status: str = ""  # "2xx", "4xx", "5xx" or a code
    errors_only: bool = False
    min_ms: float = 0.0
    cold_only: bool = False
    limit: int = 100

    def matches(self, summary: TraceSummary) -> bool:
        status = "" if summary.status is None else str(summary.status)
        wanted = self.status.lower()
        return (
            (not self.service or self.service in summary.services)
            and (not self.route or self.route.lower() in summary.name.lower())
            and (not wanted or (status == wanted or (len(wanted) == 3 and wanted.endswith("xx") and status[:1] == wanted[0])))
            and (not self.errors_only or summary.error)
            and summary.duration_ms >= self.min_ms
            and (not self.cold_only or summary.cold)
        )


@dataclass(frozen=True)
class LogQuery:
    service: str = ""
    min_severity: int = 0  # OpenTelemetry's severity numbers: 9 INFO, 13 WARN, 17 ERROR
    text: str = ""
    trace_id: str = ""
    limit: int = 200

    def matches(self, record: LogRecord) -> bool:
        text = self.text.lower()
        return (
            (not self.service or record.service == self.service)
            and record.severity_number >= self.min_severity
            and (not text or text in record.body.lower() or any(text in str(value).lower() for value in record.attributes.values()))
            and (not self.trace_id or record.trace_id == self.trace_id)
        )


@dataclass
class _Cumulative:
    start_ns: int
    count: float
    total: float


@dataclass
class TelemetryStore:
    directory: Path
    _tails: dict[str, FileTail] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._tails = {signal: FileTail(self.directory / f"{signal}.jsonl") for signal in SIGNALS}
        self._reset_traces()
        self._reset_metrics()
        self.logs: deque[LogRecord] = deque(maxlen=MAX_LOGS)

    def _reset_traces(self) -> None:
        self._traces: OrderedDict[str, dict[str, Span]] = OrderedDict()
        self._summaries: dict[str, tuple[int, TraceSummary]] = {}
        self.invocations: deque[Invocation] = deque(maxlen=MAX_POINTS)
        self.inits: deque[Sample] = deque(maxlen=MAX_POINTS)
        self.reports: deque[Sample] = deque(maxlen=MAX_POINTS)

    def _reset_metrics(self) -> None:
        self.points: deque[MetricPoint] = deque(maxlen=MAX_POINTS)
        self._cumulative: dict[tuple[Any, ...], _Cumulative] = {}

    # --- reading ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reads what was appended to the files since the last refresh."""
        with self._lock:
            for signal, tail in self._tails.items():
                replaced, lines = tail.read()
                if replaced:
                    {"traces": self._reset_traces, "metrics": self._reset_metrics, "logs": self.logs.clear}[signal]()
                add = {"traces": self._add_spans, "metrics": self._add_metrics, "logs": self._add_logs}[signal]
                for line in lines:
                    try:
                        add(json.loads(line))
                    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
                        # Not ours to fix: a line cut by a crash, another writer's, not OTLP. Skipped
                        # alone: a page still answers, and the lines after it are still read.
                        continue

    def _add_spans(self, document: dict[str, Any]) -> None:
        for span in spans_in(document):
            spans = self._traces.get(span.trace_id)
            if spans is None:
                spans = self._traces[span.trace_id] = {}
                if len(self._traces) > MAX_TRACES:
                    oldest, _ = self._traces.popitem(last=False)
                    self._summaries.pop(oldest, None)
            if span.span_id in spans:
                continue  # re-sent
            spans[span.span_id] = span
            function = function_of(span.resource)
            if span.kind == "server":
                code, failed = _outcome(span)
                self.invocations.append(
                    Invocation(
                        span.start_ns,
                        span.service,
                        span.name,
                        code,
                        failed,
                        span.duration_ms,
                        span.cold,
                        span.trace_id,
                        span.span_id,
                    )
                )
            elif span.is_init:
                self.inits.append(Sample(span.start_ns, function, span.duration_ms, span.trace_id, span.span_id))
            elif span.name == INVOKE_SPAN and (memory := _max_memory(span.attributes)) is not None:
                self.reports.append(Sample(span.start_ns, function, memory, span.trace_id, span.span_id))

    def _add_metrics(self, document: dict[str, Any]) -> None:
        for resource_metrics in document.get("resourceMetrics", []):
            resource = attributes(resource_metrics.get("resource", {}).get("attributes"))
            instance = resource.get("service.instance.id", "")
            function = function_of(resource)
            for scope_metrics in resource_metrics.get("scopeMetrics", []):
                for metric in scope_metrics.get("metrics", []):
                    for kind in ("sum", "histogram"):
                        if kind in metric:
                            self._add_points(metric["name"], metric.get("unit", ""), kind, metric[kind], instance, function)

    def _add_points(self, name: str, unit: str, kind: str, data: dict[str, Any], instance: str, function: str) -> None:
        cumulative = int(data.get("aggregationTemporality", 2)) == 2  # 1 delta, 2 cumulative
        for point in data.get("dataPoints", []):
            labels = tuple(sorted(attributes(point.get("attributes")).items(), key=lambda item: item[0]))
            if kind == "sum":
                count, total = _number(point), 0.0
            else:
                count, total = float(point.get("count", 0)), float(point.get("sum", 0.0))
            start_ns = int(point.get("startTimeUnixNano", 0))
            if cumulative:
                key = (instance, name, labels)
                last = self._cumulative.get(key)
                self._cumulative[key] = _Cumulative(start_ns, count, total)
                if last is not None and last.start_ns == start_ns:
                    count, total = count - last.count, total - last.total
            if count == 0 and total == 0:
                continue  # exported again, unchanged
            exemplars = tuple(
                Exemplar(int(item.get("timeUnixNano", 0)), _number(item), item["traceId"], item.get("spanId", ""))
                for item in point.get("exemplars", [])
                if item.get("traceId")
            )
            self.points.append(MetricPoint(int(point.get("timeUnixNano", 0)), name, unit, labels, function, count, total, exemplars))

    def _add_logs(self, document: dict[str, Any]) -> None:
        for resource_logs in document.get("resourceLogs", []):
            resource = attributes(resource_logs.get("resource", {}).get("attributes"))
            for scope_logs in resource_logs.get("scopeLogs", []):
                for raw in scope_logs.get("logRecords", []):
                    body = attributes([{"key": "body", "value": raw.get("body", {})}]).get("body")
                    self.logs.append(
                        LogRecord(
                            time_ns=int(raw.get("timeUnixNano") or raw.get("observedTimeUnixNano") or 0),
                            service=str(resource.get("service.name", "?")),
                            function=function_of(resource),
                            severity=str(raw.get("severityText", "")),
                            severity_number=int(raw.get("severityNumber", 0)),
                            body=body if isinstance(body, str) else json.dumps(body),
                            attributes=attributes(raw.get("attributes")),
                            trace_id=str(raw.get("traceId", "")),
                            span_id=str(raw.get("spanId", "")),
                        )
                    )

    # --- queries -------------------------------------------------------------------------------

    def trace(self, trace_id: str) -> Trace | None:
        with self._lock:
            spans = self._traces.get(trace_id)
            # Copies: drawing a trace links children into its spans, and two pages may draw it at once.
            return Trace(trace_id, [replace(span, children=[]) for span in spans.values()]) if spans else None

    def traces(self, query: TraceQuery) -> list[TraceSummary]:
        """The newest traces that match, newest first."""
        found: list[TraceSummary] = []
        with self._lock:
            summaries = [self._summary(trace_id, spans) for trace_id, spans in self._traces.items()]
        for summary in sorted(summaries, key=lambda summary: summary.start_ns, reverse=True):
            if query.matches(summary):
                found.append(summary)
                if len(found) >= query.limit:
                    break
        return found

    def _summary(self, trace_id: str, spans: dict[str, Span]) -> TraceSummary:
        cached = self._summaries.get(trace_id)
        if cached is not None and cached[0] == len(spans):
            return cached[1]
        members = list(spans.values())
        trace = Trace(trace_id, members)
        servers = [span for span in members if span.kind == "server"]
        entry = min(servers or [span for span in members if span.parent_id not in spans] or members, key=lambda span: span.start_ns)
        code, failed = _outcome(entry)
        summary = TraceSummary(
            trace_id=trace_id,
            start_ns=trace.start_ns,
            duration_ms=trace.duration_ms,
            name=entry.name,
            service=entry.service,
            status=code,
            # As the RED table counts it (the entry's outcome), not a span below it that the request
            # recovered from (a 404 its client span marked).
            error=failed,
            cold=any(span.is_init for span in members),
            services=sorted({span.service for span in members}),
            spans=len(members),
        )
        self._summaries[trace_id] = (len(spans), summary)
        return summary

    def services(self) -> list[str]:
        with self._lock:
            return sorted({span.service for spans in self._traces.values() for span in spans.values()} | {log.service for log in self.logs})

    def routes(self) -> list[str]:
        with self._lock:
            return sorted({invocation.route for invocation in self.invocations})

    def log_records(self, query: LogQuery) -> list[LogRecord]:
        """The newest log records that match, newest first."""
        with self._lock:
            records = list(self.logs)
        found: list[LogRecord] = []
        for record in reversed(records):
            if query.matches(record):
                found.append(record)
                if len(found) >= query.limit:
                    break
        return found

    def since(self, start_ns: int) -> Snapshot:
        """Everything the metrics are drawn from, from `start_ns` on; each exemplar a trace the
        console holds (not one dropped for newer ones, or not exported yet), or none: a chart's
        point links only to a trace its link can open."""
        with self._lock:
            kept = self._traces
            return Snapshot(
                invocations=[_linked(item, kept) for item in self.invocations if item.time_ns >= start_ns],
                inits=[_linked(item, kept) for item in self.inits if item.time_ns >= start_ns],
                reports=[_linked(item, kept) for item in self.reports if item.time_ns >= start_ns],
                points=[_exemplars_in(item, kept) for item in self.points if item.time_ns >= start_ns],
            )


def _linked(item: _Traced, kept: Container[str]) -> _Traced:
    return item if item.trace_id in kept else replace(item, trace_id="", span_id="")


def _exemplars_in(point: MetricPoint, kept: Container[str]) -> MetricPoint:
    if all(exemplar.trace_id in kept for exemplar in point.exemplars):
        return point
    return replace(point, exemplars=tuple(exemplar for exemplar in point.exemplars if exemplar.trace_id in kept))


@dataclass(frozen=True)
class Snapshot:
    invocations: list[Invocation]
    inits: list[Sample]
    reports: list[Sample]
    points: list[MetricPoint]


def walk(trace: Trace) -> Iterator[tuple[Span, int, str]]:
    """Each span of the trace in waterfall order, with its depth and its phase: `init` (a cold
    start's initialisation, and what ran in it), `post-runtime` (the extensions' time after the
    response: the export), `platform` (the platform's own view of the invocation) or `request`.
    Every span once, however deep the trace, and those whose parents form a loop (a file no SDK
    wrote) after the others, as roots."""
    shown: set[str] = set()

    def visit(root: Span) -> Iterator[tuple[Span, int, str]]:
        stack = [(root, 0, "request")]  # a stack, not recursion: a trace may be thousands of spans deep
        while stack:
            span, depth, inherited = stack.pop()
            if span.span_id in shown:
                continue
            shown.add(span.span_id)
            phase = inherited
            if span.is_init:
                phase = "init"
            elif span.name == POST_RUNTIME_SPAN:
                phase = "post-runtime"
            elif span.name.startswith("lambda ") and inherited == "request":
                phase = "platform"
            yield span, depth, phase
            stack.extend((child, depth + 1, phase) for child in reversed(span.children))

    for root in trace.roots():
        yield from visit(root)
    for span in sorted(trace.spans, key=lambda span: (span.start_ns, span.end_ns)):
        if span.span_id not in shown:
            yield from visit(span)
