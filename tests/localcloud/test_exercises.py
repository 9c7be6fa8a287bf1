"""The README's exercises: each fault of flags/bookstore.flagd.json switched on live (as `make flag`
does) under a short load, on Bookstore as `make run` starts it. The telemetry shows the fault
where the README says to look (the flag's evaluation on the span, the error status, the delay on
the right span, `Max Memory Used` growing), and afterwards, with every flag off again, the three
databases agree: no oversell, one approved payment per concluded order, nothing charged that did
not conclude."""

from __future__ import annotations

import itertools
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bookstore_dev import exercise
from localcloud.process import LocalCloudProcess
from localcloud.traceview import Span
from tests.support.bookstore import CARD_APPROVED
from tests.support.cloud import admin_book, assert_consistent, bookstore_cloud

ORDERS = 6
CLIENTS = 3
STOCK = 50


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    cloud = bookstore_cloud(tmp_path_factory.mktemp("exercises")).wait_ready()
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def livro_id(cloud: LocalCloudProcess) -> Iterator[int]:
    """A book of its own for one exercise; afterwards every flag off, and the data consistent."""
    livro_id = admin_book(cloud, STOCK, titulo="Exercícios")
    yield livro_id
    cloud.control("flags-off")
    assert_consistent(cloud, {livro_id: STOCK})


def switch(cloud: LocalCloudProcess, assignment: str) -> None:
    """`make flag ARGS=name=variant`, as the README's exercises say."""
    described = cloud.control("flag/" + quote(assignment, safe=""))
    name, variant = assignment.split("=")
    assert described[name]["variant"] == variant  # type: ignore[index]


def traced(method: str, url: str, **kwargs: object) -> tuple[str, httpx.Response]:
    """A request that starts its own trace (its `traceparent`), so the test finds that trace."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    return trace_id, httpx.request(method, url, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]


def orders(cloud: LocalCloudProcess, livro_id: int) -> list[tuple[str, httpx.Response]]:
    """A short load: ORDERS orders from CLIENTS clients at once."""
    body = {"livro_id": livro_id, "quantidade": 1, "cartao": CARD_APPROVED}
    with ThreadPoolExecutor(CLIENTS) as clients:
        return list(clients.map(lambda _: traced("POST", f"{cloud.url}/ordens", json=body), range(ORDERS)))


def trace_spans(cloud: LocalCloudProcess, trace_ids: list[str], *complete: str) -> dict[str, list[Span]]:
    """Each trace's spans, once every trace has a span of each name in `complete` (each function
    exports after its answer, on its own: one service's spans may arrive before another's)."""
    wanted = {(trace_id, name) for trace_id in trace_ids for name in complete}

    def every_trace_has_it(spans: list[Span]) -> bool:
        return wanted <= {(span.trace_id, span.name) for span in spans}

    spans = cloud.wait_for_spans(every_trace_has_it, timeout_s=60)
    return {trace_id: [span for span in spans if span.trace_id == trace_id] for trace_id in trace_ids}


def evaluations(span: Span, flag: str) -> list[dict[str, object]]:
    """The `feature_flag.evaluation` events of `flag` on the span (OpenFeature's OpenTelemetry hook)."""
    evaluations = [attributes for name, attributes, _ in span.events if name == "feature_flag.evaluation"]
    return [attributes for attributes in evaluations if attributes["feature_flag.key"] == flag]


def in_init(span: Span, spans: list[Span]) -> bool:
    """Whether the span is a cold start's init span or one of its steps."""
    parents = {candidate.span_id: candidate for candidate in spans}
    while not span.is_init and span.parent_id in parents:
        span = parents[span.parent_id]
    return span.is_init


def only(spans: list[Span], name: str, service: str) -> Span:
    found = [span for span in spans if span.name == name and span.service == service]
    assert len(found) == 1, [(span.service, span.name) for span in spans]
    return found[0]


def test_payment_failure_fails_the_payments_in_the_traces_and_charges_nothing(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given every payment set to fail
    switch(cloud, "paymentFailure=100%")
    # When orders come in
    answered = orders(cloud, livro_id)
    # Then none concludes, and the buyer is told the payment service failed
    assert {(response.status_code, response.json()["motivo"]) for _, response in answered} == {(502, "PAGAMENTO_INDISPONIVEL")}
    # And each trace shows Pagamento's span in error, hit by the flag, with the flag's evaluation on it
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in answered], "POST /ordens", "POST /pagamentos").values():
        payments = [span for span in spans if span.name == "POST /pagamentos" and span.service == "pagamento"]
        assert payments, [(span.service, span.name) for span in spans]
        for payment in payments:
            assert payment.error
            assert payment.attributes["bookstore.fault"] == "paymentFailure"
            assert [evaluation["feature_flag.result.variant"] for evaluation in evaluations(payment, "paymentFailure")] == ["100%"]


def test_a_slow_payment_shows_as_its_own_span_under_pagamento(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given payments that wait a second
    switch(cloud, "paymentSlow=1s")
    # When orders come in
    answered = orders(cloud, livro_id)
    # Then they conclude, a second later
    assert {response.status_code for _, response in answered} == {201}
    # And in each trace the second is a span of its own inside Pagamento's
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in answered], "POST /ordens", "POST /pagamentos").values():
        wait = only(spans, "fault paymentSlow", "pagamento")
        assert 1000 <= wait.duration_ms < 1500
        assert wait.parent_id == only(spans, "POST /pagamentos", "pagamento").span_id


def test_an_unreachable_payment_service_shows_as_a_refused_connection_from_ordem_de_compra(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given Ordem de Compra pointed at an address where nothing listens
    switch(cloud, "paymentUnreachable=on")
    # When orders come in
    answered = orders(cloud, livro_id)
    # Then none concludes: the payment service is unavailable
    assert {(response.status_code, response.json()["motivo"]) for _, response in answered} == {(503, "PAGAMENTO_INDISPONIVEL")}
    # And each trace shows Ordem de Compra's call failing, and no span of Pagamento at all
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in answered], "POST /ordens").values():
        assert not [span for span in spans if span.service == "pagamento"]
        calls = [span for span in spans if span.service == "ordem-de-compra" and span.kind == "client" and span.error]
        urls = [str(span.attributes.get("http.url", span.attributes.get("url.full", ""))) for span in calls]
        assert any(url.startswith("http://127.0.0.1:9/") for url in urls), urls
        server = only(spans, "POST /ordens", "ordem-de-compra")
        assert server.attributes["bookstore.fault"] == "paymentUnreachable"


def test_a_slow_catalogue_shows_its_wait_inside_get_livros(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given the catalogue slowed down by half a second
    switch(cloud, "catalogueSlow=500ms")
    # When buyers look at the book
    looked = [traced("GET", f"{cloud.url}/livros/{livro_id}") for _ in range(3)]
    assert {response.status_code for _, response in looked} == {200}
    # Then each trace's GET /livros/{id} holds a half-second span of the fault
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in looked], "GET /livros/{id}").values():
        wait = only(spans, "fault catalogueSlow", "cadastro-de-livros")
        assert 500 <= wait.duration_ms < 1000
        assert wait.parent_id == only(spans, "GET /livros/{id}", "cadastro-de-livros").span_id


def test_a_slow_query_is_the_database_span_that_takes_the_time(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given PostgreSQL answering the catalogue half a second late
    switch(cloud, "slowQuery=500ms")
    # When buyers look at the book
    looked = [traced("GET", f"{cloud.url}/livros/{livro_id}") for _ in range(3)]
    assert {response.status_code for _, response in looked} == {200}
    # Then in each trace a database span of Cadastro de Livros took the half second, a real pg_sleep
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in looked], "GET /livros/{id}").values():
        slow = [span for span in spans if span.service == "cadastro-de-livros" and span.kind == "client" and span.duration_ms >= 500]
        assert len(slow) == 1, [(span.name, span.duration_ms) for span in spans]
        assert "pg_sleep" in str(slow[0].attributes.get("db.statement", slow[0].attributes.get("db.query.text", "")))


MAX_MEMORY = re.compile(r"Max Memory Used: (\d+) MB")


def test_a_memory_leak_grows_max_memory_used_in_report(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given GET /livros/{id} keeping 10 MB per invocation
    switch(cloud, "memoryLeak=10MB")
    cloud.control("recycle")  # one environment from here on: the one whose memory is watched
    mark = cloud.mark()
    # When the book is viewed five times, one after the other (each time once the last invocation
    # has ended, so that the same environment serves them all)
    for count in range(1, 6):
        assert httpx.get(f"{cloud.url}/livros/{livro_id}", timeout=60).status_code == 200
        reports = cloud.reports("ObterLivroFunction", mark, expected=count, timeout_s=30)
    # Then REPORT's Max Memory Used grows by about 10 MB an invocation
    used = [int(match[1]) for report in reports if (match := MAX_MEMORY.search(report.line))]
    assert len(used) == 5, [report.line for report in reports]
    assert all(later - earlier >= 8 for earlier, later in itertools.pairwise(used)), used


def test_with_every_flag_off_again_orders_conclude(cloud: LocalCloudProcess, livro_id: int) -> None:
    # Given faults that were on, then `make faults-off`
    switch(cloud, "paymentFailure=100%")
    switch(cloud, "paymentUnreachable=on")
    described = cloud.control("flags-off")
    assert not [name for name, flag in described.items() if flag["changed"]]  # type: ignore[index]
    # When orders come in, Then they conclude
    assert {response.status_code for _, response in orders(cloud, livro_id)} == {201}


def test_the_flags_file_is_the_one_make_run_gives(cloud: LocalCloudProcess) -> None:
    described = cloud.control("flags")
    assert set(described) == {"paymentFailure", "paymentSlow", "paymentUnreachable", "catalogueSlow", "slowQuery", "memoryLeak"}
    assert all(flag["variant"] == "off" for flag in described.values())  # type: ignore[index]
    assert Path(cloud.state_dir / "flags.flagd.json").exists()


# --- Platform faults (python -m localcloud fault …): the code does not know; the traces show the effects


def platform_fault(cloud: LocalCloudProcess, spec: str) -> None:
    """`make fault ARGS=spec`, as the README's exercises say."""
    assert spec in cloud.control("fault/" + quote(spec, safe=""))["faults"]  # type: ignore[operator]


@pytest.fixture
def platform_off(cloud: LocalCloudProcess) -> Iterator[None]:
    yield
    described = cloud.control("faults-off")
    assert described["platform"] == {"faults": []}


def test_an_added_invocation_delay_is_the_gap_between_the_callers_span_and_the_functions(
    cloud: LocalCloudProcess, livro_id: int, platform_off: None
) -> None:
    # Given every invocation of CriarPagamentoFunction delayed by 800 ms before it starts
    platform_fault(cloud, "CriarPagamentoFunction:delay=800@100")
    # When orders come in
    answered = orders(cloud, livro_id)
    assert {response.status_code for _, response in answered} == {201}
    # Then in each trace Ordem de Compra's call to Pagamento lasts 800 ms more than Pagamento's own span
    for spans in trace_spans(cloud, [trace_id for trace_id, _ in answered], "POST /ordens", "POST /pagamentos").values():
        server = only(spans, "POST /pagamentos", "pagamento")
        call = next(span for span in spans if span.span_id == server.parent_id)
        assert call.duration_ms - server.duration_ms >= 800


def test_an_invocation_error_is_a_502_with_no_span_of_the_function(cloud: LocalCloudProcess, livro_id: int, platform_off: None) -> None:
    # Given every invocation of ObterLivroFunction failing before the function runs
    platform_fault(cloud, "ObterLivroFunction:error@100")
    # When buyers look at the book
    looked = [traced("GET", f"{cloud.url}/livros/{livro_id}") for _ in range(3)]
    # Then API Gateway answers 502, and no span of Cadastro de Livros exists in those traces
    assert {response.status_code for _, response in looked} == {502}
    marker_trace, _ = traced("GET", f"{cloud.url}/livros?limit=1")  # a later request whose spans do arrive
    spans = trace_spans(cloud, [marker_trace], "GET /livros")
    assert spans[marker_trace]
    written = {span.trace_id for span in cloud.spans()}
    assert not written & {trace_id for trace_id, _ in looked}


def test_a_fixed_integration_response_answers_without_running_the_function(cloud: LocalCloudProcess, platform_off: None) -> None:
    platform_fault(cloud, "ListarLivrosFunction:response=503@100")
    response = httpx.get(f"{cloud.url}/livros", timeout=60)
    assert response.status_code == 503
    assert response.json() == {"message": "Injected fault (integration response)"}


def test_a_cold_start_storm_makes_every_invocation_a_cold_start(cloud: LocalCloudProcess, livro_id: int, platform_off: None) -> None:
    # Given every invocation of ObterLivroFunction on a new environment
    platform_fault(cloud, "ObterLivroFunction:cold@100")
    mark = cloud.mark()
    # When the book is viewed three times
    for count in range(1, 4):
        assert httpx.get(f"{cloud.url}/livros/{livro_id}", timeout=60).status_code == 200
        reports = cloud.reports("ObterLivroFunction", mark, expected=count, timeout_s=30)
    # Then each REPORT has an Init Duration: three cold starts
    assert [report.cold for report in reports] == [True, True, True]


def test_throttling_to_one_environment_answers_429_to_the_requests_beyond(cloud: LocalCloudProcess, platform_off: None) -> None:
    def three_at_once() -> list[int]:
        with ThreadPoolExecutor(3) as buyers:
            return sorted(buyers.map(lambda _: httpx.get(f"{cloud.url}/livros", timeout=60).status_code, range(3)))

    # Given three warm environments of ListarLivrosFunction (three requests held together)
    platform_fault(cloud, "ListarLivrosFunction:delay=1000@100")
    assert three_at_once() == [200, 200, 200]
    # And then the function throttled to one, each invocation slowed past the 5 s a request waits for a free one
    platform_fault(cloud, "ListarLivrosFunction:throttle=1")
    platform_fault(cloud, "ListarLivrosFunction:delay=6000@100")
    # When three buyers list the catalogue at once
    statuses = three_at_once()
    # Then one is served and the others are throttled, warm environments or not, as Lambda caps a
    # function's concurrency
    assert statuses.count(200) >= 1
    assert 429 in statuses, statuses


def test_a_receiver_that_is_down_loses_the_telemetry_and_the_functions_say_so(cloud: LocalCloudProcess, platform_off: None) -> None:
    # Given the OTLP receiver answering 503
    platform_fault(cloud, "receiver:down")
    mark = cloud.mark()
    # When buyers look at the catalogue, Then they are served all the same
    looked = [traced("GET", f"{cloud.url}/livros?limit=1") for _ in range(2)]
    assert {response.status_code for _, response in looked} == {200}
    # And the functions log that their export failed (and leave the collector alone for a while)
    cloud.wait_for("telemetry export failed", mark, timeout_s=30)


def test_a_load_generators_requests_are_marked_synthetic_on_every_span_and_other_baggage_is_not_copied(
    cloud: LocalCloudProcess, livro_id: int
) -> None:
    # Given an order sent as make load sends it: baggage synthetic_request=true (and a key of the caller's own)
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01", "baggage": "synthetic_request=true,cliente=maria"}
    body = {"livro_id": livro_id, "quantidade": 1, "cartao": CARD_APPROVED}
    # When it is placed
    assert httpx.post(f"{cloud.url}/ordens", json=body, headers=headers, timeout=60).status_code == 201
    # Then every span of the three services in its trace says it is synthetic, and none carries the other key
    # (but a cold start's init spans, from before the request, and the platform's own spans of the
    # invocations, made from the Telemetry API's events)
    complete = trace_spans(cloud, [trace_id], "POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos")
    spans = [span for span in complete[trace_id] if not span.name.startswith("lambda ")]
    spans = [span for span in spans if not in_init(span, spans)]
    assert {span.service for span in spans} >= {"ordem-de-compra", "cadastro-de-livros", "pagamento"}
    assert all(span.attributes.get("synthetic_request") == "true" for span in spans), [
        (s.name, s.attributes) for s in spans if "synthetic_request" not in s.attributes
    ]
    assert not [span for span in spans if "cliente" in span.attributes]


def test_make_exercise_turns_faults_on_one_round_at_a_time_says_what_they_were_and_leaves_all_off(cloud: LocalCloudProcess) -> None:
    # When an exercise of two short rounds runs against the cloud
    command = [sys.executable, "-m", "bookstore_dev.exercise", "--seed", "3", "--rounds", "2", "--minutes", "0.05", "--url", cloud.url]
    mark = cloud.mark()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
    # Then each round turned one fault on in the cloud, and said at its end which it was
    assert result.returncode == 0, result.stderr
    picked = exercise.pick(3, 2)
    for fault in picked:
        assert f"It was: {fault.answer}." in result.stdout
    assert len([line for line in cloud.since(mark) if line.startswith(("local cloud: fault ", "local cloud: feature flag "))]) == 2
    # And everything is off at the end
    assert cloud.control("faults") == {"faults": []}
    assert not [name for name, flag in cloud.control("flags").items() if flag["changed"]]  # type: ignore[index]
