"""Bad input on every route gets a clear 422 and never reaches the database."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bookstore_dev.template import Route

VALID_CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "123"}
ORDEM_ID = "5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10"


def request(
    gateway: FlaskClient, method: str, path: str, body: Any = None, query: str = "", headers: dict[str, str] | None = None
) -> TestResponse:
    """`method path` through the API Gateway; a dict or list body is sent as JSON, a string as it is."""
    headers = dict(headers or {})
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    data = json.dumps(body) if isinstance(body, (dict, list)) else body
    return gateway.open(path, method=method, data=data, query_string=query, headers=headers)


CASES = [
    # function, path, body, query, where the error is
    ("CriarLivroFunction", "/livros", {"titulo": "", "preco": "10.00", "estoque": 1}, "", ["body", "titulo"]),
    ("CriarLivroFunction", "/livros", {"titulo": "x" * 201, "preco": "10.00", "estoque": 1}, "", ["body", "titulo"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "0", "estoque": 1}, "", ["body", "preco"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "-5.00", "estoque": 1}, "", ["body", "preco"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "1.234", "estoque": 1}, "", ["body", "preco"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "abc", "estoque": 1}, "", ["body", "preco"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "10.00", "estoque": -1}, "", ["body", "estoque"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "10.00", "estoque": 1.5}, "", ["body", "estoque"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "10.00", "estoque": "3"}, "", ["body", "estoque"]),
    ("CriarLivroFunction", "/livros", {"preco": "10.00", "estoque": 1}, "", ["body", "titulo"]),
    ("CriarLivroFunction", "/livros", {"titulo": "A", "preco": "10.00", "estoque": 1, "id": 7}, "", ["body"]),
    ("CriarLivroFunction", "/livros", [1, 2], "", ["body"]),
    ("ListarLivrosFunction", "/livros", None, "limit=0", ["query", "limit"]),
    ("ListarLivrosFunction", "/livros", None, "limit=201", ["query", "limit"]),
    ("ListarLivrosFunction", "/livros", None, "limit=abc", ["query", "limit"]),
    ("ListarLivrosFunction", "/livros", None, "offset=-1", ["query", "offset"]),
    ("ObterLivroFunction", "/livros/abc", None, "", ["path", "id"]),
    ("ObterLivroFunction", "/livros/0", None, "", ["path", "id"]),
    ("ObterLivroFunction", "/livros/99999999999999999999", None, "", ["path", "id"]),
    ("ReservarEstoqueFunction", "/livros/1/reservas", {"ordem_id": "nope", "quantidade": 1}, "", ["body", "ordem_id"]),
    ("ReservarEstoqueFunction", "/livros/1/reservas", {"ordem_id": ORDEM_ID, "quantidade": 0}, "", ["body", "quantidade"]),
    ("ReservarEstoqueFunction", "/livros/1/reservas", {"ordem_id": ORDEM_ID, "quantidade": 101}, "", ["body", "quantidade"]),
    ("LiberarReservaFunction", "/livros/1/reservas/nope", None, "", ["path", "ordem_id"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 0, "cartao": VALID_CARD}, "", ["body", "quantidade"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 101, "cartao": VALID_CARD}, "", ["body", "quantidade"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": "um", "quantidade": 1, "cartao": VALID_CARD}, "", ["body", "livro_id"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 1}, "", ["body", "cartao"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 1, "cartao": {**VALID_CARD, "numero": "4111111111111112"}}, "",
     ["body", "cartao", "numero"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 1, "cartao": {**VALID_CARD, "validade": "13/30"}}, "",
     ["body", "cartao", "validade"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 1, "cartao": {**VALID_CARD, "validade": "01/20"}}, "",
     ["body", "cartao", "validade"]),
    ("CriarOrdemFunction", "/ordens", {"livro_id": 1, "quantidade": 1, "cartao": {**VALID_CARD, "cvv": "12"}}, "",
     ["body", "cartao", "cvv"]),
    ("ObterOrdemFunction", "/ordens/123", None, "", ["path", "id"]),
    ("CriarPagamentoFunction", "/pagamentos", {"ordem_id": ORDEM_ID, "valor": "10.00", "cartao": {**VALID_CARD, "numero": "1234567812345678"}},
     "", ["body", "cartao", "numero"]),
    ("CriarPagamentoFunction", "/pagamentos", {"ordem_id": ORDEM_ID, "valor": "0.00", "cartao": VALID_CARD}, "", ["body", "valor"]),
    ("CriarPagamentoFunction", "/pagamentos", {"ordem_id": "x", "valor": "10.00", "cartao": VALID_CARD}, "", ["body", "ordem_id"]),
    ("ObterPagamentoFunction", "/pagamentos/xyz", None, "", ["path", "id"]),
    ("CancelarPagamentoFunction", "/pagamentos/cancelamentos", {"ordem_id": "x"}, "", ["body", "ordem_id"]),
]  # fmt: skip


@pytest.mark.parametrize(("function", "path", "body", "query", "loc"), CASES)
def test_malformed_request_is_422_naming_the_field(
    gateway: FlaskClient, routes: dict[str, Route], function: str, path: str, body: Any, query: str, loc: list[str]
) -> None:
    # Given a request with one malformed part
    # When the function handles it
    response = request(gateway, routes[function].method, path, body=body, query=query)
    # Then it answers 422 with a message and the location of the problem, before touching any data
    assert response.status_code == 422, response.text
    answer = response.json
    assert answer is not None
    assert answer["message"] == "Requisição inválida"
    assert any(issue["loc"][: len(loc)] == loc for issue in answer["detail"]), answer["detail"]


def test_idempotency_key_longer_than_255_is_422(gateway: FlaskClient) -> None:
    body = {"livro_id": 1, "quantidade": 1, "cartao": VALID_CARD}
    response = request(gateway, "POST", "/ordens", body=body, headers={"Idempotency-Key": "k" * 256})
    assert response.status_code == 422
    assert response.json is not None
    assert response.json["detail"][0]["loc"][:2] == ["header", "idempotency-key"]


def test_a_refused_card_number_is_never_echoed_back(gateway: FlaskClient) -> None:
    # Given a card number that fails the Luhn check, with its CVV
    card = {**VALID_CARD, "numero": "4111111111111112", "cvv": "987"}
    # When payments refuses it
    response = request(gateway, "POST", "/pagamentos", body={"ordem_id": ORDEM_ID, "valor": "10.00", "cartao": card})
    # Then neither the number nor the CVV appears in the answer
    assert response.status_code == 422
    assert "4111111111111112" not in response.text
    assert "987" not in response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/pagamentos", {"ordem_id": ORDEM_ID, "valor": "10.00", "cartao": {**VALID_CARD, "4000000000000002": "987"}}),
        ("/ordens", {"livro_id": 1, "quantidade": 1, "cartao": VALID_CARD, "4000000000000002": "x"}),
    ],
    ids=["inside the card", "beside it"],
)
def test_a_field_the_model_does_not_have_is_refused_without_repeating_its_name(gateway: FlaskClient, path: str, body: Any) -> None:
    # Given a body with a field the route does not take, named by the caller with a card number
    # (found by the schema-driven fuzzing: the 422 named the unknown field in `loc`)
    response = request(gateway, "POST", path, body=body)
    # Then it is a 422 that says there is a field too many, and where, but not its name
    assert response.status_code == 422, response.text
    assert response.json is not None
    assert [issue["type"] for issue in response.json["detail"]] == ["extra_forbidden"]
    assert "4000000000000002" not in response.text


BOOK = {"titulo": "A", "preco": "10.00", "estoque": 1}
MALFORMED_BODIES = [
    # (case, body as sent, content type, the status, the message's start)
    ("text/plain", json.dumps(BOOK).encode(), "text/plain", 415, "Content-Type"),
    ("form-encoded JSON", json.dumps(BOOK).encode(), "application/x-www-form-urlencoded", 415, "Content-Type"),
    ("no content type", json.dumps(BOOK).encode(), None, 415, "Content-Type"),
    ("a number of 5,000 digits", b'{"titulo": "A", "preco": 1' + b"0" * 5000 + b', "estoque": 1}', "application/json", 400, "Corpo"),
    ("nesting 10,000 deep", b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "Corpo"),
    ("nesting near the interpreter's limit", b"[" * 990 + b"]" * 990, "application/json", 400, "Corpo"),
    ("not JSON at all", b"{nope", "application/json", 400, "Corpo"),
    ("NaN", b'{"titulo": "A", "preco": NaN, "estoque": 1}', "application/json", 400, "Corpo"),
    ("a NUL character", json.dumps({**BOOK, "titulo": "A\u0000B"}).encode(), "application/json", 400, "Corpo"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"), [case[1:] for case in MALFORMED_BODIES], ids=[c[0] for c in MALFORMED_BODIES]
)
def test_a_body_that_is_not_usable_json_is_a_clear_4xx_never_a_500(
    gateway: FlaskClient, body: bytes, content_type: str | None, status: int, message: str
) -> None:
    # Given a body a JSON route cannot use
    headers = {"Content-Type": content_type} if content_type else {}
    # When it is sent to a route that takes JSON
    response = gateway.post("/livros", data=body, headers=headers)
    # Then the answer says what is wrong with it, without repeating it
    assert response.status_code == status, response.text
    assert response.json is not None
    assert response.json["message"].startswith(message)
    assert len(response.text) < 300


def test_the_content_type_is_read_as_http_says_case_insensitive_with_parameters(gateway: FlaskClient) -> None:
    # Given a JSON body sent as "Application/JSON; charset=UTF-8", with an invalid title
    response = gateway.post("/livros", data=json.dumps({**BOOK, "titulo": ""}), headers={"Content-Type": "Application/JSON; charset=UTF-8"})
    # Then it is read as JSON: the title's problem is what the answer names
    assert response.status_code == 422, response.text


def test_a_card_sent_form_encoded_is_never_echoed(gateway: FlaskClient) -> None:
    # Given an order whose JSON body is sent as a form (curl -d without -H), card and CVV inside
    body = json.dumps({"livro_id": 1, "quantidade": 1, "cartao": {**VALID_CARD, "cvv": "987"}})
    response = gateway.post("/ordens", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    # Then it is refused for its content type, and nothing of it comes back
    assert response.status_code == 415
    assert VALID_CARD["numero"] not in response.text
    assert "987" not in response.text


def test_a_body_over_lambdas_6_mb_payload_limit_is_413(gateway: FlaskClient) -> None:
    response = gateway.post(
        "/livros", data=b'{"titulo": "' + b"x" * (6 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json == {"message": "Request Entity Too Large"}


def test_an_idempotency_key_with_a_nul_byte_is_422(gateway: FlaskClient) -> None:
    body = {"livro_id": 1, "quantidade": 1, "cartao": VALID_CARD}
    response = request(gateway, "POST", "/ordens", body=body, headers={"Idempotency-Key": "k\x00"})
    assert response.status_code in {400, 422}, response.text


@pytest.mark.parametrize("path", ["/livros/1.0", "/livros/+1", "/livros/01", "/livros/1%20", "/livros/%201", "/livros/1e0"])
def test_only_the_canonical_form_of_a_book_id_is_a_book_id(gateway: FlaskClient, path: str) -> None:
    response = gateway.get(path)
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "path",
    [
        "/ordens/5F0C7A52-3A0E-4C55-9D57-1F3B9B8F2A1",
        "/ordens/5f0c7a523a0e4c559d571f3b9b8f2a10",
        "/ordens/{5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10}",
    ],
)
def test_only_the_canonical_form_of_an_order_id_is_an_order_id(gateway: FlaskClient, path: str) -> None:
    response = gateway.get(path)
    assert response.status_code == 422, response.text


def test_a_body_that_is_not_utf_8_is_400_not_a_gateway_error(gateway: FlaskClient) -> None:
    response = gateway.post(
        "/livros", data=b'{"titulo": "\xff\xfe", "preco": "1.00", "estoque": 1}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json == {"message": "Body is not UTF-8 text"}


def test_head_on_a_get_route_is_what_api_gateway_answers_for_a_method_it_does_not_have(gateway: FlaskClient) -> None:
    response = gateway.head("/livros/1")
    assert response.status_code == 403


def test_a_database_that_cannot_be_reached_is_503_with_retry_after_not_500(gateway: FlaskClient) -> None:
    # Given the unit tests' database credentials, which point at a port nothing listens on
    # When a valid request needs the database
    response = gateway.get("/livros/1")
    # Then the answer says the service is unavailable for now, not that it has a bug
    assert response.status_code == 503
    assert response.json == {"message": "Banco de dados indisponível"}
    assert response.headers["Retry-After"] == "5"
