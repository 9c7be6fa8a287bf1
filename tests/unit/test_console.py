"""The console without a browser or a socket: its reading of the telemetry files (written here as
the receiver writes them: the real SDK's spans, metrics and logs, encoded by the OTLP exporter's
own encoders, converted by `localcloud.otlp`), its charts, its pages through Flask's test client,
and its load generator's start and stop."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from google.protobuf.message import Message
from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from localcloud.console import charts
from localcloud.console.app import create_app
from localcloud.console.load import LoadGenerator
from localcloud.console.store import FileTail, LogQuery, TelemetryStore, TraceQuery, walk
from localcloud.errors import LocalCloudError
from localcloud.otlp import to_otlp_json
from localcloud.process import wait_until

STATIC = Path(__file__).resolve().parents[2] / "localcloud" / "console" / "static"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"  # of npm's htmx.org 2.0.11 dist/htmx.min.js
PORT = 3001
ORDERS = Resource.create({"service.name": "ordem-de-compra", "faas.name": "CriarOrdemFunction"})


class Telemetry:
    """A function's SDK, writing what it exports to the directory as the local cloud's receiver does."""

    def __init__(self, directory: Path, resource: Resource = ORDERS) -> None:
        self.directory = directory
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("test")
        self.metrics = InMemoryMetricReader()
        self.meter = MeterProvider(resource=resource, metric_readers=[self.metrics]).get_meter("test")
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.logger = logger_provider.get_logger("test")

    def _append(self, name: str, message: Message) -> None:
        with (self.directory / f"{name}.jsonl").open("a") as sink:
            sink.write(json.dumps(to_otlp_json(message)) + "\n")

    def export(self) -> None:
        if spans := self.spans.get_finished_spans():
            self._append("traces", encode_spans(spans))
            self.spans.clear()
        if data := self.metrics.get_metrics_data():
            self._append("metrics", encode_metrics(data))
        if logs := self.logs.get_finished_logs():
            self._append("logs", encode_logs(logs))
            self.logs.clear()


@pytest.fixture
def telemetry(tmp_path: Path) -> Telemetry:
    return Telemetry(tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> TelemetryStore:
    return TelemetryStore(tmp_path)


def order(telemetry: Telemetry, status: int = 201, cold: bool = False) -> tuple[str, str]:
    """An order's SERVER span (and its init, when cold), a log line inside it and a counted order: (trace id, span id)."""
    orders = telemetry.meter.create_counter("bookstore.orders", unit="{order}")
    with telemetry.tracer.start_as_current_span("POST /ordens", kind=SpanKind.SERVER) as span:
        span.set_attributes({"http.route": "/ordens", "http.response.status_code": status, "faas.coldstart": cold})
        if cold:
            with telemetry.tracer.start_as_current_span("init") as init:
                init.set_attribute("faas.coldstart", True)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR, "payment down"))
        orders.add(1, {"bookstore.order.status": "CONCLUIDA" if status < 400 else "NAO_CONCLUIDA"})
        context = span.get_span_context()
        telemetry.logger.emit(ApiLogRecord(body="ordem registrada", severity_number=SeverityNumber.INFO, severity_text="INFO"))
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# --- the files -------------------------------------------------------------------------------


def test_a_line_still_being_written_waits_for_the_next_read(tmp_path: Path) -> None:
    # Given a file whose last line has no newline yet
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b"')
    tail = FileTail(path)
    # When it is read, then completed and read again
    first = tail.read()
    with path.open("ab") as sink:
        sink.write(b": 2}\n")
    second = tail.read()
    # Then each complete line comes once, whole
    assert first == (False, [b'{"a": 1}'])
    assert second == (False, [b'{"b": 2}'])


def test_a_file_cut_or_replaced_is_read_again_from_its_start(tmp_path: Path) -> None:
    # Given a file read to its end
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"one\ntwo\n")
    tail = FileTail(path)
    tail.read()
    # When a new cloud starts it again (a shorter file)
    path.write_bytes(b"three\n")
    # Then the read says so, and starts over
    assert tail.read() == (True, [b"three"])


def test_a_long_file_is_read_from_its_last_bytes_starting_at_a_whole_line(tmp_path: Path) -> None:
    # Given a file longer than the first read takes
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b"".join(b"line %d\n" % number for number in range(100)))
    # When the console first reads it
    replaced, lines = FileTail(path, first_read_bytes=30).read()
    # Then it gets the last lines, each whole
    assert not replaced
    assert lines
    assert all(line.startswith(b"line ") for line in lines)
    assert lines[-1] == b"line 99"


def test_a_line_longer_than_a_read_is_skipped_and_the_lines_after_it_still_come(tmp_path: Path) -> None:
    # Given a file with a line longer than a read takes (an export of 20 MB is one line), then a short one
    path = tmp_path / "logs.jsonl"
    path.write_bytes(b"first\n" + b"x" * 100 + b"\nafter\n")
    tail = FileTail(path)
    # When it is read, a few bytes at a time
    lines = [line for _ in range(10) for line in tail.read(limit=16)[1]]
    # Then the long line is dropped, not waited on forever, and the others come
    assert lines == [b"first", b"after"]


# --- traces, logs and metrics from the files --------------------------------------------------


def test_a_trace_is_summarised_by_its_entry_span_and_found_by_each_filter(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given a cold order that failed and a warm one that succeeded, as the receiver writes them
    failed, _ = order(telemetry, status=502, cold=True)
    succeeded, _ = order(telemetry, status=201)
    telemetry.export()
    # When the console reads the files
    store.refresh()
    # Then each trace is its entry span's route, status, cold start and error
    summaries = {summary.trace_id: summary for summary in store.traces(TraceQuery())}
    assert (summaries[failed].name, summaries[failed].status, summaries[failed].cold, summaries[failed].error) == (
        "POST /ordens",
        502,
        True,
        True,
    )
    assert (summaries[succeeded].status, summaries[succeeded].cold, summaries[succeeded].error) == (201, False, False)
    # And each filter keeps what it says
    assert [s.trace_id for s in store.traces(TraceQuery(status="5xx"))] == [failed]
    assert [s.trace_id for s in store.traces(TraceQuery(status="201"))] == [succeeded]
    assert [s.trace_id for s in store.traces(TraceQuery(errors_only=True))] == [failed]
    assert [s.trace_id for s in store.traces(TraceQuery(cold_only=True))] == [failed]
    assert {s.trace_id for s in store.traces(TraceQuery(service="ordem-de-compra", route="ordens"))} == {failed, succeeded}
    assert store.traces(TraceQuery(service="pagamento")) == []
    assert store.traces(TraceQuery(min_ms=60_000)) == []


def test_a_line_that_is_json_but_not_otlp_is_skipped_alone(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given an order, then lines another writer (or a cut, or a hand) left: JSON, not OTLP
    before, _ = order(telemetry)
    telemetry.export()
    with (telemetry.directory / "traces.jsonl").open("a") as sink:
        for line in ("[]", '"text"', '{"resourceSpans": [{"scopeSpans": [{"spans": [{}]}]}]}', "[" * 100_000):
            sink.write(line + "\n")
    # And an order after them, read in the same refresh
    after, _ = order(telemetry)
    telemetry.export()
    # When the console reads the file
    store.refresh()
    # Then both orders are there: the lines between them skipped, not the read stopped
    assert {summary.trace_id for summary in store.traces(TraceQuery())} == {before, after}


def test_the_waterfall_marks_the_init_phase_and_what_ran_in_it(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given a cold order
    trace_id, _ = order(telemetry, cold=True)
    telemetry.export()
    store.refresh()
    # When its waterfall is laid out
    trace = store.trace(trace_id)
    assert trace is not None
    rows = [(span.name, depth, phase) for span, depth, phase in walk(trace)]
    # Then the init span is drawn as the init phase, under the request
    assert rows == [("POST /ordens", 0, "request"), ("init", 1, "init")]


def test_a_log_line_keeps_its_trace_and_span_and_is_found_by_them(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given an order whose log line was emitted inside its SERVER span
    trace_id, span_id = order(telemetry)
    order(telemetry)
    telemetry.export()
    store.refresh()
    # When the logs of that trace are asked for
    records = store.log_records(LogQuery(trace_id=trace_id))
    # Then it is that line, pointing at its span
    assert [(record.body, record.span_id, record.severity) for record in records] == [("ordem registrada", span_id, "INFO")]
    assert store.log_records(LogQuery(text="REGISTRADA", min_severity=9))
    assert not store.log_records(LogQuery(min_severity=17))


def test_cumulative_counters_become_increments_with_their_exemplar_traces(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given two exports of a function's cumulative counter: one order, then two more
    first, _ = order(telemetry)
    telemetry.export()
    second, _ = order(telemetry)
    third, _ = order(telemetry)
    telemetry.export()
    # When the console reads them
    store.refresh()
    points = [point for point in store.since(0).points if point.name == "bookstore.orders"]
    # Then each export counts what it added (1, then 2), not the running total
    assert [point.count for point in points] == [1, 2]
    # And its exemplars point at the traces that counted in that export
    assert [exemplar.trace_id for exemplar in points[0].exemplars] == [first]
    assert points[1].exemplars
    assert {exemplar.trace_id for exemplar in points[1].exemplars} <= {second, third}


# --- charts ----------------------------------------------------------------------------------


def test_a_charts_point_links_to_the_slowest_request_of_its_bucket() -> None:
    # Given three requests of a route in one bucket
    buckets = charts.Buckets.ending(now_ns=600 * 10**9, window_s=300)
    at = buckets.start_ns + 1
    items = [charts.Item("POST /ordens", at, ms, f"trace-{ms}") for ms in (5.0, 900.0, 40.0)]
    # When they are charted as a p95
    chart = charts.chart("p95", "p95", "ms", buckets, items, lambda values: charts.percentile(values, 0.95))
    # Then the bucket's value is the p95 and its exemplar the slowest trace; empty buckets have none
    point = chart.series[0].points[0]
    assert (point.value, point.trace_id) == (900.0, "trace-900.0")
    assert all(not later.trace_id and later.value == 0 for later in chart.series[0].points[1:])
    assert chart.y_max == 1000.0


def test_series_beyond_the_limit_are_summed_as_other() -> None:
    buckets = charts.Buckets.ending(now_ns=600 * 10**9, window_s=300)
    items = [charts.Item(f"route {n}", buckets.start_ns, 1.0) for n in range(charts.MAX_SERIES + 3)]
    chart = charts.chart("rate", "rate", "req/s", buckets, items, charts.count)
    names = [series.name for series in chart.series]
    assert len(names) == charts.MAX_SERIES
    assert "other" in names
    assert next(series for series in chart.series if series.name == "other").points[0].value == 4.0


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (charts.percentile(values, 0.5), charts.percentile(values, 0.95), charts.percentile(values, 0.99)) == (50.0, 95.0, 99.0)
    assert charts.percentile([], 0.5) == 0.0


# --- the pages ---------------------------------------------------------------------------------


@pytest.fixture
def client(store: TelemetryStore) -> FlaskClient:
    app = create_app(store, PORT)
    return app.test_client()


def get(client: FlaskClient, path: str) -> tuple[int, str]:
    response = client.get(path, base_url=f"http://127.0.0.1:{PORT}")
    return response.status_code, response.get_data(as_text=True)


def test_a_trace_page_shows_its_spans_attributes_and_logs_escaped(telemetry: Telemetry, client: FlaskClient) -> None:
    # Given an order whose span carries a value a browser would run, were it not escaped
    with telemetry.tracer.start_as_current_span("POST /ordens", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.user_agent", "<script>alert(1)</script>")
        trace_id, span_id = format(span.get_span_context().trace_id, "032x"), format(span.get_span_context().span_id, "016x")
    telemetry.export()
    # When its page is opened on that span
    status, page = get(client, f"/traces/{trace_id}?span={span_id}")
    # Then the span is there, unfolded, its attribute shown as text
    assert status == 200
    assert f'id="span-{span_id}"' in page
    assert "selected" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def raw_span(directory: Path, trace_id: str, span_id: str, parent_id: str = "", start_ns: int = 1, name: str = "span") -> None:
    """A span as a file no SDK wrote may hold it (a hand's, another writer's)."""
    span = {"traceId": trace_id, "spanId": span_id, "parentSpanId": parent_id, "name": name}
    span |= {"startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(start_ns + 1)}
    with (directory / "traces.jsonl").open("a") as sink:
        sink.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")


def test_a_time_no_clock_shows_is_written_as_its_number(tmp_path: Path, client: FlaskClient) -> None:
    # Given a span in the year 31 million
    raw_span(tmp_path, "ab" * 16, "cd" * 8, start_ns=10**24)
    # When the trace list and the trace are drawn
    rows_status, rows = get(client, "/traces/rows")
    trace_status, _ = get(client, "/traces/" + "ab" * 16)
    # Then both are pages, the time its number
    assert (rows_status, trace_status) == (200, 200)
    assert str(10**24) in rows


def test_a_trace_thousands_deep_or_whose_parents_loop_is_drawn_with_every_span(tmp_path: Path, client: FlaskClient) -> None:
    # Given a trace 3,000 spans deep, and one whose two spans are each other's parent, and one its own
    for depth in range(3000):
        raw_span(tmp_path, "de" * 16, f"{depth:016x}", f"{depth - 1:016x}" if depth else "", start_ns=depth + 1)
    raw_span(tmp_path, "10" * 16, "a" * 16, "b" * 16, name="looped-a")
    raw_span(tmp_path, "10" * 16, "b" * 16, "a" * 16, name="looped-b")
    raw_span(tmp_path, "11" * 16, "c" * 16, "c" * 16, name="its-own-parent")
    # When they are drawn
    deep_status, deep = get(client, "/traces/" + "de" * 16)
    looped_status, looped = get(client, "/traces/" + "10" * 16)
    own_status, own = get(client, "/traces/" + "11" * 16)
    # Then each is a page with each of its spans
    assert (deep_status, looped_status, own_status) == (200, 200, 200)
    assert deep.count('class="span ') == 3000
    assert "looped-a" in looped
    assert "looped-b" in looped
    assert "its-own-parent" in own


def test_an_unknown_trace_is_a_404_that_says_why(client: FlaskClient) -> None:
    status, page = get(client, "/traces/" + "0" * 32)
    assert status == 404
    assert "exports after its answer" in page


def test_the_metrics_panel_links_each_exemplar_point_to_its_trace(telemetry: Telemetry, client: FlaskClient) -> None:
    # Given orders just now
    trace_id, _ = order(telemetry, cold=True)
    telemetry.export()
    # When the metrics panel is drawn
    status, page = get(client, "/metrics/panel?window=5m")
    # Then the RED table has the route, and its points (and the orders counter's) link to the trace
    assert status == 200
    assert "POST /ordens" in page
    assert f'href="/traces/{trace_id}' in page
    assert 'id="chart-metric-bookstore.orders"' in page


def test_a_charts_point_never_links_to_a_trace_the_console_dropped(
    telemetry: Telemetry, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a console that keeps one trace (5,000 in truth: an hour's load has more), and a cold order, then a warm one
    monkeypatch.setattr("localcloud.console.store.MAX_TRACES", 1)
    dropped, _ = order(telemetry, cold=True)
    telemetry.export()
    kept, _ = order(telemetry)
    telemetry.export()
    # When the metrics panel is drawn
    status, page = get(client, "/metrics/panel?window=5m")
    # Then its points link to the trace it holds, none to the one it dropped (that link would be a 404)
    assert status == 200
    assert get(client, f"/traces/{dropped}")[0] == 404
    assert f'href="/traces/{kept}' in page
    assert f"/traces/{dropped}" not in page
    # And the dropped order still counts: it is only not linked
    assert 'id="chart-cold-starts"' in page
    assert "Nothing in this window yet" not in page.split('id="chart-cold-starts"')[1].split("</figure>")[0]


def test_the_console_refuses_other_host_names_and_posts_from_other_pages(client: FlaskClient) -> None:
    # A rebinding name
    assert client.get("/traces", base_url=f"http://attacker.example:{PORT}").status_code == 403
    # A plain form post, and one from another origin (the console without a cloud has no actions anyway)
    assert client.post("/cloud/recycle", base_url=f"http://127.0.0.1:{PORT}").status_code == 403
    foreign = client.post(
        "/cloud/recycle", base_url=f"http://127.0.0.1:{PORT}", headers={"HX-Request": "true", "Origin": "http://attacker.example"}
    )
    assert foreign.status_code == 403
    # And every page says where its scripts may come from
    response = client.get("/traces", base_url=f"http://localhost:{PORT}")
    assert response.status_code == 200
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'self' covers scripts: ours only
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_vendored_htmx_is_npms_file_unchanged_with_its_license() -> None:
    assert hashlib.sha256((STATIC / "htmx-2.0.11.min.js").read_bytes()).hexdigest() == HTMX_SHA256
    assert "Zero-Clause BSD" in (STATIC / "htmx-LICENSE").read_text()


# --- the load generator --------------------------------------------------------------------------


def test_the_load_generator_starts_once_and_stops_on_sigint_with_its_output_relayed() -> None:
    # Given a generator that says when it is ready and when Ctrl-C reached it
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *_: (print('stopping', flush=True), sys.exit(0)))\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.05)\n"
    )
    lines: list[str] = []
    load = LoadGenerator([sys.executable, "-c", script], lines.append)
    # When it is started, started again, then stopped
    assert load.start()["running"] is True
    wait_until(lambda: "[load] ready" in lines or None, "the generator's first line")
    with pytest.raises(LocalCloudError, match="running already"):
        load.start()
    described = load.stop()
    # Then it ended on its SIGINT (its own exit), its lines on the console
    assert (described["running"], described["exit_code"]) == (False, 0)
    wait_until(lambda: "[load] stopping" in lines or None, "the generator's last line")


def test_a_trace_is_an_error_as_the_red_table_counts_one_not_for_a_span_its_request_recovered_from(
    telemetry: Telemetry, store: TelemetryStore
) -> None:
    # Given an order refused with a 404 whose client span to the catalogue has an error status
    with telemetry.tracer.start_as_current_span("POST /ordens", kind=SpanKind.SERVER) as entry:
        entry.set_attributes({"http.route": "/ordens", "http.response.status_code": 404})
        with telemetry.tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as client:
            client.set_status(Status(StatusCode.ERROR, "404"))
        trace_id = format(entry.get_span_context().trace_id, "032x")
    telemetry.export()
    store.refresh()
    # When the trace list and the RED table look at it
    (summary,) = store.traces(TraceQuery())
    (row,) = charts.red_table(store.since(0).invocations, 300)
    # Then neither counts it as an error: the request answered as it should
    assert (summary.trace_id, summary.error, row.errors) == (trace_id, False, 0)
    assert store.traces(TraceQuery(errors_only=True)) == []


def test_reports_memory_and_init_durations_become_samples_per_function(telemetry: Telemetry, store: TelemetryStore) -> None:
    # Given a cold order, and the platform's span of its invocation with REPORT's memory (as the layer's extension writes it)
    trace_id, _ = order(telemetry, cold=True)
    with telemetry.tracer.start_as_current_span("lambda invoke") as platform:
        platform.set_attribute("bookstore.lambda.max_memory_used_mb", 107)
    telemetry.export()
    store.refresh()
    # When the Lambda charts' data is read
    snapshot = store.since(0)
    # Then memory and the init are samples of the function, with their traces
    assert [(sample.series, sample.value) for sample in snapshot.reports] == [("CriarOrdemFunction", 107.0)]
    assert [(sample.series, sample.trace_id) for sample in snapshot.inits] == [("CriarOrdemFunction", trace_id)]
