"""The order flow carries the trace context across the services: one trace per order, SERVER spans
named after their route, errors only for 5xx — read from what the functions export to the local
cloud's OTLP receiver."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable

import httpx

from localcloud import faults
from localcloud.cloud import LocalCloud
from localcloud.traceview import Span
from tests.integration.conftest import SpanWait
from tests.support.bookstore import CARD_APPROVED, new_book, order


def traced_order(gateway_url: str, livro_id: int, trace_id: str, parent_id: str) -> int:
    """An order from a client that starts a trace (plain urllib, as curl would)."""
    body = {"livro_id": livro_id, "quantidade": 1, "cartao": CARD_APPROVED}
    request = urllib.request.Request(  # noqa: S310 - a loopback URL the test built
        f"{gateway_url}/ordens",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "traceparent": f"00-{trace_id}-{parent_id}-01"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - a loopback URL the test built
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def of_trace(trace_id: str, *servers: str) -> Callable[[list[Span]], bool]:
    """The condition: the trace holds the SERVER spans of these routes."""
    return lambda spans: {span.name for span in spans if span.trace_id == trace_id and span.kind == "server"} >= set(servers)


def test_one_order_is_one_trace_across_the_three_services(api: httpx.Client, gateway_url: str, spans: SpanWait) -> None:
    # Given a book, and a client that starts a trace
    book = new_book(api, estoque=2)
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    # When it places an order, sending its traceparent
    assert traced_order(gateway_url, book["id"], trace_id, parent_id) == 201
    callees = ("GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos")
    found = [span for span in spans(of_trace(trace_id, "POST /ordens", *callees)) if span.trace_id == trace_id]
    # Then each function the order reached has its SERVER span, with the Lambda attributes
    servers = {span.name: span for span in found if span.kind == "server"}
    for name, server in servers.items():
        assert server.attributes["faas.trigger"] == "http"
        assert server.attributes["faas.invocation_id"]
        assert isinstance(server.attributes["faas.coldstart"], bool)
        assert str(server.attributes["cloud.resource_id"]).startswith("arn:aws:lambda:")
        assert f"{server.attributes['http.request.method']} {server.attributes['http.route']}" == name
    # And books and payments run under the HTTP client spans orders made, not as orphans
    by_id = {span.span_id: span for span in found}
    for callee in callees:
        client_span = by_id[servers[callee].parent_id]
        assert client_span.kind == "client"
        assert by_id[client_span.parent_id] is servers["POST /ordens"]
    assert servers["POST /ordens"].parent_id == parent_id
    # And the database statements are spans under the functions that ran them
    database_spans = [span for span in found if span.attributes.get("db.system.name", span.attributes.get("db.system")) == "postgresql"]
    assert {server_of(span, by_id) for span in database_spans} >= {"POST /ordens", "POST /livros/{id}/reservas", "POST /pagamentos"}


def server_of(span: Span, by_id: dict[str, Span]) -> str:
    """The SERVER span a span ran under; for a cold start's init spans (moved under the caller,
    beside SERVER), the init span itself."""
    while span.kind != "server" and span.parent_id in by_id:
        span = by_id[span.parent_id]
    return span.name


def test_a_5xx_answer_marks_the_server_span_as_an_error(api: httpx.Client, gateway_url: str, cloud: LocalCloud, spans: SpanWait) -> None:
    # Given payments failing, so that orders answers 502
    book = new_book(api)
    assert cloud.gateway is not None
    cloud.gateway.faults["CriarPagamentoFunction"] = faults.function_error
    trace_id = secrets.token_hex(16)
    # When an order is placed
    assert traced_order(gateway_url, book["id"], trace_id, secrets.token_hex(8)) == 502
    # Then the orders SERVER span has an error status, and the 2xx spans of books do not
    found = spans(of_trace(trace_id, "POST /ordens", "GET /livros/{id}"))
    servers = {span.name: span for span in found if span.trace_id == trace_id and span.kind == "server"}
    assert servers["POST /ordens"].error
    assert servers["POST /ordens"].attributes["http.response.status_code"] == 502
    assert not servers["GET /livros/{id}"].error


def test_a_4xx_answer_is_not_an_error_of_the_server(gateway_url: str, spans: SpanWait) -> None:
    # Given a client that starts a trace
    trace_id = secrets.token_hex(16)
    # When it asks for a book that does not exist
    response = httpx.get(f"{gateway_url}/livros/424242", headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    assert response.status_code == 404
    # Then the SERVER span records the 404 without marking an error
    found = spans(of_trace(trace_id, "GET /livros/{id}"))
    server = next(span for span in found if span.trace_id == trace_id and span.kind == "server")
    assert server.attributes["http.response.status_code"] == 404
    assert not server.error


def test_each_order_without_a_caller_trace_starts_its_own(api: httpx.Client, spans: SpanWait) -> None:
    # Given a book
    book = new_book(api)
    before = {span.trace_id for span in spans(lambda found: True)}
    # When two orders arrive with no traceparent
    assert order(api, book["id"]).status_code == 201
    assert order(api, book["id"]).status_code == 201

    # Then each is a trace of its own, rooted in its POST /ordens
    def two_new_orders(found: list[Span]) -> bool:
        return sum(1 for span in found if span.name == "POST /ordens" and span.trace_id not in before) == 2

    found = spans(two_new_orders)
    roots = [span for span in found if span.name == "POST /ordens" and span.trace_id not in before]
    assert len({span.trace_id for span in roots}) == 2
    assert all(span.parent_id == "" for span in roots)
