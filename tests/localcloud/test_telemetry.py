"""What a trainee sees in the telemetry files of the local cloud: complete traces, cold starts,
conventions, logs and metrics, nothing lost under the freeze, no card data."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookstore_dev.template import ROOT
from localcloud.process import LocalCloudProcess
from localcloud.traceview import Span, Trace, read_traces, render_html
from tests.support.documents import pairs

CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "7391"}
ORDER_ROUTES = {"POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"}


def traces_file(cloud: LocalCloudProcess) -> Path:
    return cloud.telemetry("traces.jsonl")


def new_book(cloud: LocalCloudProcess, estoque: int = 1000) -> int:
    book = httpx.post(f"{cloud.url}/livros", json={"titulo": "Telemetria", "preco": "20.00", "estoque": estoque}, timeout=60).json()
    livro_id: int = book["id"]
    return livro_id


def order(cloud: LocalCloudProcess, livro_id: int, card: dict[str, str] = CARD) -> tuple[str, httpx.Response]:
    """Places an order as an instrumented client would: with its own traceparent."""
    trace_id = secrets.token_hex(16)
    response = httpx.post(
        f"{cloud.url}/ordens",
        json={"livro_id": livro_id, "quantidade": 1, "cartao": card},
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        timeout=60,
    )
    return trace_id, response


def trace_of(cloud: LocalCloudProcess, trace_id: str) -> Trace:
    # Every function flushes before it answers: the trace is complete once the receiver wrote it.
    found = [trace for trace in read_traces([traces_file(cloud)]) if trace.trace_id == trace_id]
    assert found, f"trace {trace_id} not in {traces_file(cloud)}"
    return found[0]


def servers(trace: Trace) -> dict[str, Span]:
    return {span.name: span for span in trace.spans if span.kind == "server"}


def is_complete(trace: Trace) -> bool:
    return set(servers(trace)) >= ORDER_ROUTES and not trace.orphans()


def test_a_cold_order_is_one_trace_with_each_functions_cold_start(bookstore_cloud: LocalCloudProcess) -> None:
    # Given no warm environment
    livro_id = new_book(bookstore_cloud)
    bookstore_cloud.control("recycle")
    # When an order is placed
    trace_id, response = order(bookstore_cloud, livro_id)
    assert response.status_code == 201
    trace = trace_of(bookstore_cloud, trace_id)
    # Then one trace holds the three services, with no orphan span
    assert {span.service for span in trace.spans} == {"ordem-de-compra", "cadastro-de-livros", "pagamento"}
    assert trace.orphans() == []
    by_route = servers(trace)
    assert set(by_route) == ORDER_ROUTES
    by_id = {span.span_id: span for span in trace.spans}
    # And each function that started cold shows its init just before its SERVER span, under the same caller
    inits = [span for span in trace.spans if span.name == "init"]
    assert len(inits) == 4
    for init in inits:
        server = next(span for span in by_route.values() if span.parent_id == init.parent_id and span.service == init.service)
        assert init.end_ns <= server.start_ns
        assert server.attributes["faas.coldstart"] is True
        steps = {child.name for child in trace.spans if child.parent_id == init.span_id}
        assert {"imports", "settings", "secret fetch", "database connection"} <= steps
    # And the secret fetch is the botocore instrumentation's span, the queries psycopg's
    secret_fetches = [span for span in trace.spans if span.name == "secret fetch"]
    assert all(any(child.parent_id == fetch.span_id and child.kind == "client" for child in trace.spans) for fetch in secret_fetches)
    assert any(span.attributes.get("db.system.name", span.attributes.get("db.system")) == "postgresql" for span in trace.spans)
    # And books and payments run under the orders' HTTP client spans
    for route in ("GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"):
        caller = by_id[by_route[route].parent_id]
        assert (caller.kind, caller.service) == ("client", "ordem-de-compra")


def test_the_callers_wait_is_accounted_for_by_the_spans_beneath(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    bookstore_cloud.control("recycle")
    trace_id, _ = order(bookstore_cloud, livro_id)
    trace = trace_of(bookstore_cloud, trace_id)
    callers = [span for span in trace.spans if span.kind == "client" and span.name in {"GET", "POST"}]  # orders' HTTP calls
    assert len(callers) == 3
    for caller in callers:
        beneath = sorted((span.start_ns, span.end_ns) for span in trace.spans if span.parent_id == caller.span_id)
        covered, cursor = 0, caller.start_ns
        for start, end in beneath:
            start, end = max(start, cursor), min(end, caller.end_ns)
            if end > start:
                covered, cursor = covered + end - start, end
        gap_ms = (caller.end_ns - caller.start_ns - covered) / 1e6
        # What is left is the API Gateway hop, the Runtime API and the flush: a few milliseconds
        # (about 10 on a quiet 2-core machine; the bound leaves room for a busy one).
        assert gap_ms < 40, f"{caller.name} -> unexplained {gap_ms:.1f} ms of {caller.duration_ms:.1f} ms"


def test_a_warm_order_has_no_init_spans(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    order(bookstore_cloud, livro_id)
    trace_id, _ = order(bookstore_cloud, livro_id)
    trace = trace_of(bookstore_cloud, trace_id)
    assert is_complete(trace)
    assert [span for span in trace.spans if span.name == "init"] == []
    assert all(span.attributes["faas.coldstart"] is False for span in servers(trace).values())


def test_server_spans_and_resources_follow_the_semantic_conventions(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    trace_id, _ = order(bookstore_cloud, livro_id)
    trace = trace_of(bookstore_cloud, trace_id)
    expected_service = {"POST /ordens": "ordem-de-compra", "POST /pagamentos": "pagamento"}
    for name, span in servers(trace).items():
        attributes, resource = span.attributes, span.resource
        assert attributes["faas.trigger"] == "http"
        assert attributes["faas.invocation_id"]
        assert str(attributes["cloud.resource_id"]).startswith("arn:aws:lambda:us-east-1:")
        assert f"{attributes['http.request.method']} {attributes['http.route']}" == name
        assert attributes["http.response.status_code"] in {200, 201}
        assert resource["service.name"] == expected_service.get(name, "cadastro-de-livros")
        assert resource["faas.name"] == str(attributes["cloud.resource_id"]).rsplit(":", 1)[1]
        assert (resource["cloud.provider"], resource["cloud.region"]) == ("aws", "us-east-1")
        assert (resource["service.version"], resource["deployment.environment.name"]) == ("0.1.0", "dev")
    assert servers(trace)["POST /ordens"].attributes["bookstore.order.status"] == "CONCLUIDA"


def test_logs_carry_the_trace_and_metrics_count_the_orders(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    trace_id, _ = order(bookstore_cloud, livro_id)
    telemetry = bookstore_cloud.telemetry().parent
    # Logs: the OTLP records of this order's trace, with span ids
    records = [
        record
        for line in (telemetry / "logs.jsonl").read_text().splitlines()
        for resource_logs in json.loads(line)["resourceLogs"]
        for scope_logs in resource_logs["scopeLogs"]
        for record in scope_logs["logRecords"]
    ]
    mine = [record for record in records if record.get("traceId") == trace_id]
    assert {record["body"]["stringValue"] for record in mine} >= {"ordem registrada", "ordem finalizada", "pagamento processado"}
    assert all(len(record["spanId"]) == 16 for record in mine)
    # And the JSON log lines printed by the functions name the same trace
    assert any(f'"trace_id":"{trace_id}"' in line for line in bookstore_cloud.snapshot())
    # Metrics: the business counters, flushed with the invocation
    names = {
        metric["name"]
        for line in (telemetry / "metrics.jsonl").read_text().splitlines()
        for resource_metrics in json.loads(line)["resourceMetrics"]
        for scope_metrics in resource_metrics["scopeMetrics"]
        for metric in scope_metrics["metrics"]
    }
    assert {"bookstore.orders", "bookstore.payment.amount", "bookstore.stock.reservations"} <= names


def test_two_hundred_orders_under_the_freeze_are_two_hundred_complete_traces(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    trace_ids = []
    for _ in range(200):
        trace_id, response = order(bookstore_cloud, livro_id)
        assert response.status_code == 201
        trace_ids.append(trace_id)
    traces = {trace.trace_id: trace for trace in read_traces([traces_file(bookstore_cloud)])}
    assert sum(is_complete(traces[trace_id]) for trace_id in trace_ids if trace_id in traces) == 200


@pytest.fixture(scope="module")
def unflushed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """The Bookstore with BOOKSTORE_SKIP_FLUSH=true (through an env-vars file), freeze on."""
    state = tmp_path_factory.mktemp("unflushed")
    env_vars = state / "env.json"
    env_vars.write_text(json.dumps({"Parameters": {"BOOKSTORE_SKIP_FLUSH": "true"}}))
    cloud = LocalCloudProcess(ROOT / "template.yaml", state, "--no-watch", "--env-vars", str(env_vars))
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


def test_without_the_flush_a_frozen_environment_loses_its_spans(unflushed_cloud: LocalCloudProcess) -> None:
    # Given functions that skip the flush at the end of each invocation
    livro_id = new_book(unflushed_cloud)
    # When orders are placed and the environments later end (as idle ones do)
    trace_ids = [order(unflushed_cloud, livro_id)[0] for _ in range(20)]
    time.sleep(1)
    unflushed_cloud.control("recycle")
    # Then most traces never arrive whole: their spans froze in the batch processor and died with it
    traces = (
        {trace.trace_id: trace for trace in read_traces([traces_file(unflushed_cloud)])} if traces_file(unflushed_cloud).exists() else {}
    )
    complete = sum(trace_id in traces and is_complete(traces[trace_id]) for trace_id in trace_ids)
    assert complete < len(trace_ids) / 2, f"{complete} of {len(trace_ids)} traces arrived whole"


@pytest.fixture(scope="module")
def hanging_collector() -> Iterator[int]:
    """A collector that accepts connections and never answers (worse than one that refuses them)."""
    with socket.socket() as collector:
        collector.bind(("127.0.0.1", 0))
        collector.listen(128)
        yield collector.getsockname()[1]


def test_a_collector_that_hangs_delays_requests_by_a_bounded_time(hanging_collector: int, tmp_path: Path) -> None:
    cloud = LocalCloudProcess(ROOT / "template.yaml", tmp_path, "--no-watch", "--otlp-endpoint", f"http://127.0.0.1:{hanging_collector}")
    try:
        cloud.wait_ready()
        livro_id = new_book(cloud)
        durations = []
        for _ in range(5):
            started = time.monotonic()
            _, response = order(cloud, livro_id)
            durations.append(time.monotonic() - started)
            assert response.status_code == 201
    finally:
        cloud.stop()
    # Every request answered; a wait is bounded by the 1 s export timeout per environment, and once
    # an environment has seen the collector fail it stops waiting for it.
    assert max(durations[1:]) < 1.0, durations


def test_no_card_number_or_cvv_reaches_the_telemetry(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    cards = [CARD, {**CARD, "numero": "5555555555554444", "cvv": "8264"}, {**CARD, "numero": "4000000000000002", "cvv": "9137"}]
    for card in cards:
        order(bookstore_cloud, livro_id, card)
    httpx.post(
        f"{bookstore_cloud.url}/pagamentos",
        json={"ordem_id": secrets.token_hex(16), "valor": "1.00", "cartao": {**CARD, "numero": "4111111111111112"}},
        timeout=60,
    )
    leaks: list[str] = []
    for path in bookstore_cloud.telemetry().parent.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            for key, value in pairs(json.loads(line)):
                text = str(value)
                if any(card["numero"] in text or text == card["cvv"] for card in cards) or "4111111111111112" in text:
                    leaks.append(f"{path.name}: {key}={text[:80]}")
                if str(value).lower() in {"numero", "cvv"}:
                    leaks.append(f"{path.name}: attribute named {value}")
    assert leaks == []


CHROMIUM = shutil.which("chromium") or "chromium"


@pytest.mark.skipif(
    shutil.which("chromium") is None and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)
def test_the_html_waterfall_draws_every_span_in_headless_chromium(bookstore_cloud: LocalCloudProcess, tmp_path: Path) -> None:
    livro_id = new_book(bookstore_cloud)
    bookstore_cloud.control("recycle")
    trace_id, _ = order(bookstore_cloud, livro_id)
    trace = trace_of(bookstore_cloud, trace_id)
    page = tmp_path / "traces.html"
    page.write_text(render_html([trace]))
    dom = subprocess.run(  # noqa: S603 - Debian's chromium on a page we wrote
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    # The page's own script drew one bar per span, the cold starts marked
    assert f'data-rendered="{len(trace.spans)}"' in dom
    assert dom.count('class="row span"') == len(trace.spans)
    assert dom.count('class="bar cold"') == 8  # four init spans and four cold SERVER spans
    assert f'data-trace-id="{trace_id}"' in dom


def test_make_demo_tours_the_bookstore_and_prints_each_trace(bookstore_cloud: LocalCloudProcess) -> None:
    result = subprocess.run(  # noqa: S603 - our own module, as `make demo` runs it
        [sys.executable, "-m", "bookstore_dev.demo", "--url", bookstore_cloud.url, "--traces", str(traces_file(bookstore_cloud))],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    sections = result.stdout.split("\n=== ")[1:]
    assert [section.splitlines()[1].split("->")[1].split()[0] for section in sections] == ["201", "201", "402", "409", "404"]
    # Every request's trace was found and drawn; the cold one shows init spans, the warm one none
    assert all("\ntrace " in section for section in sections)
    assert "[cold start]" in sections[0]
    assert "[cold start]" not in sections[1]
