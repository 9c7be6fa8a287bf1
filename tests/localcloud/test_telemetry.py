"""What a trainee sees in the telemetry files of the local cloud: complete traces, cold starts,
conventions, logs and metrics, nothing lost under the freeze, no card data."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bookstore_dev.template import ROOT
from bookstore_shared.http_client import SigV4
from localcloud.process import LocalCloudProcess, wait_until
from localcloud.traceview import Span, Trace, render_html
from tests.support.cloud import bookstore_cloud
from tests.support.documents import pairs

CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "7391"}
ORDER_ROUTES = {"POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"}


def traces_file(cloud: LocalCloudProcess) -> Path:
    return cloud.telemetry_dir / "traces.jsonl"


def new_book(cloud: LocalCloudProcess, estoque: int = 1000) -> int:
    body = {"titulo": "Telemetria", "preco": "20.00", "estoque": estoque}
    book = httpx.post(f"{cloud.url}/livros", json=body, timeout=60, auth=SigV4.from_profile(cloud.admin_credentials)).json()
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


def trace_in(spans: list[Span], trace_id: str) -> Trace:
    return Trace(trace_id, [span for span in spans if span.trace_id == trace_id])


def trace_of(cloud: LocalCloudProcess, trace_id: str) -> Trace:
    """The order's trace once it is complete. Every function flushes before it answers, and the
    receiver writes exports in the order it answered them: once the last SERVER span is written
    and no span misses its parent, the functions' earlier spans (init included) are written too."""
    return trace_in(cloud.wait_for_spans(lambda spans: is_complete(trace_in(spans, trace_id))), trace_id)


def servers(trace: Trace) -> dict[str, Span]:
    return {span.name: span for span in trace.spans if span.kind == "server"}


def all_frozen(cloud: LocalCloudProcess) -> bool:
    return all(environment["state"] == "frozen" for environments in cloud.status().values() for environment in environments)


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


def test_the_callers_wait_holds_each_callees_init_then_its_server_span(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    bookstore_cloud.control("recycle")
    trace_id, response = order(bookstore_cloud, livro_id)
    assert response.status_code == 201, response.text
    trace = trace_of(bookstore_cloud, trace_id)
    callers = [span for span in trace.spans if span.kind == "client" and span.name in {"GET", "POST"}]  # orders' HTTP calls
    assert len(callers) == 3
    for caller in callers:
        beneath = sorted((span for span in trace.spans if span.parent_id == caller.span_id), key=lambda span: span.start_ns)
        # Beneath each call of a cold function: its init, then its SERVER span, nothing else
        assert [(span.name if span.kind == "internal" else span.kind) for span in beneath] == ["init", "server"]
        init, server = beneath
        assert init.service == server.service != caller.service
        # The caller's call caused the cold start (the init's start is the process start, known to
        # one clock tick, 10 ms), the server span came after the init, and the caller waited for it
        assert init.start_ns >= caller.start_ns - 10_000_000
        assert init.end_ns <= server.start_ns
        assert caller.start_ns <= server.start_ns <= server.end_ns <= caller.end_ns


def test_a_warm_order_has_no_init_spans(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    order(bookstore_cloud, livro_id)
    # An environment whose extension still exports is busy: wait, so the next order finds it warm
    wait_until(lambda: all_frozen(bookstore_cloud), "every environment frozen")
    trace_id, response = order(bookstore_cloud, livro_id)
    assert response.status_code == 201, response.text
    trace = trace_of(bookstore_cloud, trace_id)
    assert is_complete(trace)
    assert [span for span in trace.spans if span.name == "init"] == []
    assert all(span.attributes["faas.coldstart"] is False for span in servers(trace).values())


def test_server_spans_and_resources_follow_the_semantic_conventions(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    trace_id, response = order(bookstore_cloud, livro_id)
    assert response.status_code == 201, response.text
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
    mark = bookstore_cloud.mark()
    trace_id, _ = order(bookstore_cloud, livro_id)

    # Logs: the OTLP records of this order's trace, with span ids
    def mine(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            record
            for document in documents
            for resource_logs in document["resourceLogs"]
            for scope_logs in resource_logs["scopeLogs"]
            for record in scope_logs["logRecords"]
            if record.get("traceId") == trace_id
        ]

    expected_logs = {"ordem registrada", "ordem finalizada", "pagamento processado"}
    records = mine(
        bookstore_cloud.wait_for_documents(
            "logs.jsonl", lambda documents: {record["body"]["stringValue"] for record in mine(documents)} >= expected_logs
        )
    )
    assert all(len(record["spanId"]) == 16 for record in records)
    # And the JSON log lines printed by the functions name the same trace
    bookstore_cloud.wait_for(f'"trace_id":"{trace_id}"', mark)

    # Metrics: the business counters, flushed with the invocation
    def names(documents: list[dict[str, Any]]) -> set[str]:
        return {
            metric["name"]
            for document in documents
            for resource_metrics in document["resourceMetrics"]
            for scope_metrics in resource_metrics["scopeMetrics"]
            for metric in scope_metrics["metrics"]
        }

    expected_metrics = {"bookstore.orders", "bookstore.payment.amount", "bookstore.stock.reservations"}
    bookstore_cloud.wait_for_documents("metrics.jsonl", lambda documents: names(documents) >= expected_metrics)


def test_two_hundred_orders_under_the_freeze_are_two_hundred_complete_traces(bookstore_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(bookstore_cloud)
    trace_ids = []
    for _ in range(200):
        trace_id, response = order(bookstore_cloud, livro_id)
        assert response.status_code == 201
        trace_ids.append(trace_id)
    spans = bookstore_cloud.wait_for_spans(lambda spans: all(is_complete(trace_in(spans, trace_id)) for trace_id in trace_ids), 60)
    assert sum(is_complete(trace_in(spans, trace_id)) for trace_id in trace_ids) == 200


def test_an_orders_telemetry_leaves_after_its_response_through_the_extension(bookstore_cloud: LocalCloudProcess) -> None:
    # Given the Bookstore as `make run` starts it (BOOKSTORE_TELEMETRY_EXPORT=extension, freeze on)
    livro_id = new_book(bookstore_cloud)
    order(bookstore_cloud, livro_id)  # warm
    mark = bookstore_cloud.mark()

    # When an order is placed
    trace_id, response = order(bookstore_cloud, livro_id)
    assert response.status_code == 201

    # Then each function's invocation ended after its extension exported: REPORT says how long that took
    for function in ("CriarOrdemFunction", "ReservarEstoqueFunction", "CriarPagamentoFunction"):
        reports = bookstore_cloud.reports(function, mark, expected=1)
        assert reports, f"no REPORT of {function}"
        assert all(report.post_runtime_ms is not None for report in reports), reports[0].line
    # And the trace arrives whole
    assert is_complete(trace_of(bookstore_cloud, trace_id))


def test_the_platforms_view_of_each_invocation_joins_its_trace(bookstore_cloud: LocalCloudProcess) -> None:
    # Given warm environments, every one of them done and frozen
    livro_id = new_book(bookstore_cloud)
    order(bookstore_cloud, livro_id)
    wait_until(lambda: all_frozen(bookstore_cloud), "every environment frozen")

    # When an order is placed, and then more: Lambda delivers an invocation's platform.report
    # only when its environment runs again, and the layer asks for a second of buffering
    trace_id, _ = order(bookstore_cloud, livro_id)

    # Then the first order's trace holds, for each invocation, the platform's spans beside its
    # SERVER span: the runtime's part and the extension's part after it
    def platform_spans() -> list[Span] | None:
        order(bookstore_cloud, livro_id)
        invokes = [span for span in trace_in(bookstore_cloud.spans(), trace_id).spans if span.name == "lambda invoke"]
        return invokes if len(invokes) == len(ORDER_ROUTES) else None

    invokes = wait_until(platform_spans, "a platform span per invocation of the order", timeout_s=30)
    trace = trace_of(bookstore_cloud, trace_id)
    by_invocation = {span.attributes.get("faas.invocation_id"): span for span in trace.spans if span.kind == "server"}
    for invoke in invokes:
        server = by_invocation[invoke.attributes["faas.invocation_id"]]
        assert invoke.parent_id == server.parent_id
        children = {span.name: span for span in trace.spans if span.parent_id == invoke.span_id}
        assert set(children) == {"lambda runtime", "lambda post-runtime"}
        assert children["lambda runtime"].end_ns == children["lambda post-runtime"].start_ns
        assert children["lambda runtime"].attributes["bookstore.lambda.response_latency_ms"] >= 0
        assert invoke.start_ns <= server.start_ns + 1_000_000  # Lambda's times are to the millisecond
        assert invoke.end_ns >= server.end_ns - 1_000_000
    assert not trace.orphans()


@pytest.fixture(scope="module")
def flushing_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """The Bookstore with BOOKSTORE_TELEMETRY_EXPORT=flush: exported before each response."""
    cloud = bookstore_cloud(tmp_path_factory.mktemp("flushing"), variables={"BOOKSTORE_TELEMETRY_EXPORT": "flush"})
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


def test_with_the_flush_switch_telemetry_leaves_before_the_response_and_no_extension_runs(flushing_cloud: LocalCloudProcess) -> None:
    livro_id = new_book(flushing_cloud)
    mark = flushing_cloud.mark()
    trace_ids = [order(flushing_cloud, livro_id)[0] for _ in range(5)]
    reports = flushing_cloud.reports("CriarOrdemFunction", mark, expected=5)
    assert len(reports) == 5
    assert all(report.post_runtime_ms is None for report in reports), reports[0].line
    spans = flushing_cloud.wait_for_spans(lambda spans: all(is_complete(trace_in(spans, trace_id)) for trace_id in trace_ids))
    assert all(is_complete(trace_in(spans, trace_id)) for trace_id in trace_ids)


@pytest.fixture(scope="module")
def unflushed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """The Bookstore with BOOKSTORE_TELEMETRY_EXPORT=none (through an env-vars file), freeze on."""
    state = tmp_path_factory.mktemp("unflushed")
    cloud = bookstore_cloud(state, variables={"BOOKSTORE_TELEMETRY_EXPORT": "none"})
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


def test_without_the_flush_a_frozen_environment_loses_its_spans(unflushed_cloud: LocalCloudProcess) -> None:
    # Given functions that skip the flush at the end of each invocation
    livro_id = new_book(unflushed_cloud)
    # When orders are placed and the environments later end (as idle ones do)
    trace_ids = [order(unflushed_cloud, livro_id)[0] for _ in range(20)]
    wait_until(
        lambda: all(environment["state"] == "frozen" for environments in unflushed_cloud.status().values() for environment in environments),
        "every environment frozen",
    )
    unflushed_cloud.control("recycle")
    # Then most traces never arrive whole: their spans froze in the batch processor and died with it
    unflushed_cloud.wait_for_receiver()  # everything exported before the recycle is written
    spans = unflushed_cloud.spans()
    complete = sum(is_complete(trace_in(spans, trace_id)) for trace_id in trace_ids)
    assert complete < len(trace_ids) / 2, f"{complete} of {len(trace_ids)} traces arrived whole"


@pytest.fixture(scope="module")
def hanging_collector() -> Iterator[int]:
    """A collector that accepts connections and never answers (worse than one that refuses them)."""
    with socket.socket() as collector:
        collector.bind(("127.0.0.1", 0))
        collector.listen(128)
        yield collector.getsockname()[1]


def test_a_collector_that_hangs_delays_requests_by_a_bounded_time(hanging_collector: int, tmp_path: Path) -> None:
    cloud = bookstore_cloud(tmp_path, "--otlp-endpoint", f"http://127.0.0.1:{hanging_collector}")
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
    # Every request answered; each environment waited for the collector once, within the export
    # timeout (2 s by default after the response, not the SDK's 10 s), then left it alone: the warm orders are far
    # from the time a single unbounded export would take.
    assert cloud.wait_for("telemetry export failed; not trying again")
    assert max(durations[1:]) < 5.0, durations


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
    bookstore_cloud.wait_for_receiver()  # everything the functions exported is written: what is not there never came
    leaks: list[str] = []
    for path in bookstore_cloud.telemetry_dir.glob("*.jsonl"):
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
        [sys.executable, "-m", "bookstore_dev.demo", "--url", bookstore_cloud.url, "--traces", str(traces_file(bookstore_cloud)),
         "--credentials", str(bookstore_cloud.admin_credentials), "--console", bookstore_cloud.console_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    sections = result.stdout.split("\n=== ")[1:]
    assert [section.splitlines()[1].split("->")[1].split()[0] for section in sections] == ["201", "201", "402", "409", "404"]
    # Every request's trace was found and drawn; the cold one shows init spans, the warm one none
    assert all("\ntrace " in section for section in sections)
    assert "[cold start]" in sections[0]
    assert "[cold start]" not in sections[1]
    # And each links to its trace in the console, which has it
    links = [re.search(r"in the console, with its logs: (\S+)", section) for section in sections]
    assert all(link is not None and httpx.get(link[1]).status_code == 200 for link in links), links


def test_the_reconciler_runs_every_minute_on_its_own_as_a_trace_triggered_by_a_timer(bookstore_cloud: LocalCloudProcess) -> None:
    # Given Bookstore on the local cloud, as `make run` starts it (its schedules on)
    # When its first minute has passed (the session's cloud is usually older than that already)
    line = bookstore_cloud.wait_for("schedule ReconciliarOrdensFunction.ACadaMinuto (rate(1 minute)) ran:", timeout_s=120)
    # Then the reconciler ran, and its run is a trace of its own, started by the timer, not by a request
    assert line.endswith("ran: response")
    spans = bookstore_cloud.wait_for_spans(lambda found: any(span.attributes.get("faas.trigger") == "timer" for span in found))
    run = next(span for span in spans if span.attributes.get("faas.trigger") == "timer")
    assert (run.service, run.kind, run.parent_id) == ("ordem-de-compra", "server", "")


def test_make_reconcile_runs_the_reconciler_now_and_says_what_it_ended(bookstore_cloud: LocalCloudProcess) -> None:
    port = bookstore_cloud.url.rsplit(":", 1)[1]
    result = subprocess.run(  # noqa: S603 - our own module, as `make reconcile` runs it
        [sys.executable, "-m", "localcloud", "schedule", "ReconciliarOrdensFunction", "--port", port],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    run = json.loads(result.stdout)
    assert (run["schedule"], run["outcome"]) == ("ReconciliarOrdensFunction.ACadaMinuto", "response")
    assert set(run["response"]) == {"finalizadas", "adiadas"}
    # A name the template has no schedule for is a one-line error naming the ones it has
    # A web page cannot make a browser trigger it (a cross-site POST carries an Origin header)
    from_a_page = httpx.post(
        f"{bookstore_cloud.url}/_localcloud/schedule/ReconciliarOrdensFunction", headers={"Origin": "http://evil.example"}
    )
    assert (from_a_page.status_code, from_a_page.json()) == (403, {"message": "The local cloud's control routes do not answer browsers"})
    for name in ("CriarOrdemFunction", "ReconciliarOrdensFunction.ACadaMinuto/x"):
        unknown = subprocess.run(  # noqa: S603 - our own module
            [sys.executable, "-m", "localcloud", "schedule", name, "--port", port],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert unknown.returncode == 2
        assert f"no single schedule named {name!r}" in unknown.stderr
        assert "ReconciliarOrdensFunction.ACadaMinuto" in unknown.stderr
