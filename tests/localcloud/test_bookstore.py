"""The Bookstore on the local cloud, as `make run` brings it up."""

from __future__ import annotations

import secrets
import urllib.request

import httpx

from bookstore_shared.http_client import SigV4
from localcloud.process import LocalCloudProcess

CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "123"}


def test_an_order_over_http_is_concluded_and_lowers_the_stock(bookstore_cloud: LocalCloudProcess) -> None:
    # The operator's client: signed with the admin identity the cloud wrote, to add a book and read a payment
    with httpx.Client(base_url=bookstore_cloud.url, timeout=60, auth=SigV4.from_profile(bookstore_cloud.admin_credentials)) as api:
        # Given the seeded catalog and a new book
        assert len(api.get("/livros").json()) >= 5
        book = api.post("/livros", json={"titulo": "O Cortiço", "autor": "Aluísio Azevedo", "preco": "45.00", "estoque": 4}).json()
        # When a client orders 3
        response = api.post("/ordens", json={"livro_id": book["id"], "quantidade": 3, "cartao": CARD})
        # Then the order is concluded through the three services' environments
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "CONCLUIDA"
        assert response.json()["valor_total"] == "135.00"
        assert api.get(f"/livros/{book['id']}").json()["estoque"] == 1
        assert api.get(f"/pagamentos/{response.json()['pagamento_id']}").json()["status"] == "APROVADO"


def test_a_declined_card_is_402_through_the_local_cloud(bookstore_cloud: LocalCloudProcess) -> None:
    with httpx.Client(base_url=bookstore_cloud.url, timeout=60) as api:
        response = api.post("/ordens", json={"livro_id": 1, "quantidade": 1, "cartao": {**CARD, "numero": "4000000000000002"}})
    assert response.status_code == 402
    assert response.json()["motivo"] == "PAGAMENTO_RECUSADO"


def test_the_functions_export_their_spans_to_the_receiver(bookstore_cloud: LocalCloudProcess) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    # Plain urllib, as curl would: an httpx client instrumented in this process (a test module that
    # configured OpenTelemetry) would put a traceparent of its own in
    request = urllib.request.Request(f"{bookstore_cloud.url}/livros/1", headers={"traceparent": traceparent})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a loopback URL the test built
        assert response.status == 200
    # The books function's SERVER span of this request, in the caller's trace
    spans = bookstore_cloud.wait_for_spans(lambda spans: any(span.trace_id == trace_id and span.kind == "server" for span in spans))
    server = next(span for span in spans if span.trace_id == trace_id and span.kind == "server")
    assert (server.service, server.name) == ("cadastro-de-livros", "GET /livros/{id}")
