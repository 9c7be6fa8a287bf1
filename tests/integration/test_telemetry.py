"""The order flow already produces spans and carries the trace context across services
(the telemetry issue polishes names, cold starts and export; here the basics must hold)."""

from __future__ import annotations

import json
import urllib.request

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bookstore_dev.gateway import Gateway
from tests.support import faults
from tests.support.bookstore import new_book, order

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def test_one_order_is_one_trace_across_the_three_services(api: httpx.Client, gateway_url: str, spans: InMemorySpanExporter) -> None:
    # Given a book, and a client that starts a trace (plain urllib, as curl would: the test's own
    # httpx client is instrumented too and would put its own traceparent in)
    book = new_book(api, estoque=2)
    spans.clear()
    # When it places an order, sending its traceparent
    body = {
        "livro_id": book["id"],
        "quantidade": 1,
        "cartao": {"numero": "4111111111111111", "titular": "Ana", "validade": "10/38", "cvv": "321"},
    }
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the test built
        f"{gateway_url}/ordens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "traceparent": TRACEPARENT},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a loopback URL the test built
        assert response.status == 201
    finished = spans.get_finished_spans()
    # Then every span of the order belongs to the client's trace
    assert {format(span.context.trace_id, "032x") for span in finished} == {TRACE_ID}
    servers = {span.name: span for span in finished if span.kind is SpanKind.SERVER}
    # And each function the order reached has its SERVER span with the Lambda attributes
    # named after their route template
    assert {"POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"} <= set(servers)
    for name, server in servers.items():
        attributes = server.attributes or {}
        assert attributes["faas.trigger"] == "http"
        assert attributes["faas.invocation_id"]
        assert isinstance(attributes["faas.coldstart"], bool)
        assert str(attributes["cloud.resource_id"]).startswith("arn:aws:lambda:")
        assert f"{attributes['http.request.method']!s} {attributes['http.route']!s}" == name
        assert attributes["http.response.status_code"] in {200, 201}
    # And books and payments run under the HTTP client spans orders made, not as orphans
    by_id = {span.context.span_id: span for span in finished}

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None
        return by_id[span.parent.span_id]

    for callee in ("GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"):
        client_span = parent(servers[callee])
        assert client_span.kind is SpanKind.CLIENT
        assert parent(client_span) is servers["POST /ordens"]
    assert servers["POST /ordens"].parent is not None
    assert format(servers["POST /ordens"].parent.span_id, "016x") == "00f067aa0ba902b7"
    # And the database statements are spans under the functions that ran them
    database_spans = [
        span for span in finished if (span.attributes or {}).get("db.system.name", (span.attributes or {}).get("db.system")) == "postgresql"
    ]
    assert {servers_of(span, by_id) for span in database_spans} >= {"POST /ordens", "POST /livros/{id}/reservas", "POST /pagamentos"}


def servers_of(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> str:
    while span.kind is not SpanKind.SERVER:
        assert span.parent is not None
        span = by_id[span.parent.span_id]
    return span.name


def test_an_instrumented_client_and_the_services_share_one_trace(api: httpx.Client, spans: InMemorySpanExporter) -> None:
    # Given a client instrumented with OpenTelemetry (the test's own httpx client)
    book = new_book(api)
    spans.clear()
    # When it places an order
    assert order(api, book["id"]).status_code == 201
    finished = spans.get_finished_spans()
    # Then the order's spans continue the client's trace, each one a new trace per request
    roots = [span for span in finished if span.parent is None]
    assert len(roots) == 1
    assert roots[0].kind is SpanKind.CLIENT
    assert {span.context.trace_id for span in finished} == {roots[0].context.trace_id}


def test_a_5xx_answer_marks_the_server_span_as_an_error(api: httpx.Client, gateway: Gateway, spans: InMemorySpanExporter) -> None:
    # Given payments failing, so that orders answers 502
    book = new_book(api)
    gateway.faults["CriarPagamentoFunction"] = faults.answers_500
    spans.clear()
    assert order(api, book["id"]).status_code == 502
    # Then the orders SERVER span has an error status, and the 2xx spans of books do not
    servers = {span.name: span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER}
    assert servers["POST /ordens"].status.status_code is StatusCode.ERROR
    assert servers["POST /ordens"].attributes is not None
    assert servers["POST /ordens"].attributes["http.response.status_code"] == 502
    assert servers["GET /livros/{id}"].status.status_code is StatusCode.UNSET


def test_a_4xx_answer_is_not_an_error_of_the_server(api: httpx.Client, spans: InMemorySpanExporter) -> None:
    spans.clear()
    assert api.get("/livros/424242").status_code == 404
    server = next(span for span in spans.get_finished_spans() if span.kind is SpanKind.SERVER)
    assert server.status.status_code is StatusCode.UNSET
