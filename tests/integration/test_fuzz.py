"""Schema-driven fuzzing: schemathesis generates requests from the published OpenAPI description
(docs/openapi/, what the code declares) — valid ones and, on purpose, invalid ones — and sends them
to every route of the running local cloud: public, internal (reservations, payments,
cancellations) and admin (POST /livros). Every answer must:

- never be a 5xx: all is healthy here, so even the declared 502/503/504 (a dependency or the
  database down) would be a bug, and a 500 always is;
- be declared: its status, content type, headers and body as the document says;
- refuse what the schema refuses (negative data never gets a 2xx);
- never repeat what it refused: no card number, CVV or other rejected value comes back.

The run is bounded by the Hypothesis profile (tests/conftest.py): `bounded`, derandomized, in
`make test`; `fuzz`, longer and random, in `make fuzz`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from schemathesis import Case
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bookstore_dev import openapi
from bookstore_shared.http_client import SigV4
from localcloud.cloud import LocalCloud

# Books the generated requests can find: small ids are what Hypothesis tries first, so orders
# and reservations reach the saga, not only the 404 of an unknown book.
BOOKS = 5
# Shorter than a fuzzed string usually is, longer than the words answers are made of ("body").
ECHO_MIN_LENGTH = 6


def _schema(api: str) -> BaseSchema:
    """The API's committed document, generating as much as the active Hypothesis profile says.
    Loaded at collection (one test per operation); the cloud's URL is only known per test."""
    active = hypothesis.settings.default
    assert active is not None  # tests/conftest.py loads a profile
    config = SchemathesisConfig.from_dict(
        {
            "generation": {
                "mode": "all",  # valid and invalid requests
                "max-examples": active.max_examples,
                "deterministic": active.derandomize,
                "database": "none",  # every run starts from the profile alone (repeatable in CI)
            },
            "request-timeout": 30,
        }
    )
    return schemathesis.openapi.from_path(str(openapi.path_of(api)), config=config)


class SignedAsAdmin(requests.auth.AuthBase):
    """Schemathesis sends with requests. The documents declare the closed routes' SigV4 as an
    `Authorization` header: where a generated request carries one, it is replaced by a real
    signature as the local cloud's admin, so those routes are fuzzed past their door; where a
    negative case left it out, the request goes unsigned and must get API Gateway's 403."""

    def __init__(self, cloud: LocalCloud) -> None:
        self._signer = SigV4.from_profile(cloud.admin_credentials)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if "Authorization" in request.headers:
            body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
            request.headers.update(self._signer.signature(str(request.method), str(request.url), body))
        return request


@pytest.fixture
def books(cloud: LocalCloud) -> None:
    """Books 1 to BOOKS with plenty of stock (the clean-up after each test restarts the ids)."""
    with httpx.Client(base_url=cloud.url, timeout=30, auth=SigV4.from_profile(cloud.admin_credentials)) as client:
        for number in range(1, BOOKS + 1):
            book = {"titulo": f"Livro {number}", "preco": "19.90", "estoque": 100_000}
            assert client.post("/livros", json=book).status_code == 201


def rejected_input_is_never_echoed(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A refusal (4xx) says where and why, never what: no string the request sent — a value, or a
    key that is not one of the API's own names — appears in the answer. Card numbers and CVVs
    are checked whatever their length."""
    if response.status_code < 400:
        return None
    try:
        answer = json.loads(response.content or b"null")
    except ValueError:
        raise AssertionError(f"a {response.status_code} answer that is not JSON") from None
    said = _strings(answer)
    own_names = _names(case.operation.schema.raw_schema)
    for sent in _sent(case):
        card = sent in _card_values(case.body)
        if sent in own_names or (len(sent) < ECHO_MIN_LENGTH and not card):
            continue
        if any(sent == text or (len(sent) >= ECHO_MIN_LENGTH and sent in text) for text in said):
            what = "a card number or CVV" if card else f"{sent!r}"
            raise AssertionError(f"the {response.status_code} answer repeats {what} from the request")
    return None


def _sent(case: Case[Any]) -> set[str]:
    found = _strings(case.body) if not isinstance(case.body, (bytes, bytearray)) else set()
    for part in (case.query, case.path_parameters, case.headers):
        # Their names are the API's (or HTTP's: Content-Type); their values are the caller's.
        found |= _strings(list(dict(part or {}).values()))
    return found


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*({str(key)} | _strings(item) for key, item in value.items()))
    if isinstance(value, list):
        return set().union(*(_strings(item) for item in value))
    return {str(value)} if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 10**5 else set()


def _card_values(body: Any) -> set[str]:
    cartao = body.get("cartao") if isinstance(body, dict) else None
    return {str(cartao[key]) for key in ("numero", "cvv") if key in cartao} if isinstance(cartao, dict) else set()


def _names(document: dict[str, Any]) -> set[str]:
    """Every name the API itself uses (properties, parameters, where an error is: "body"…)."""
    names = {"body", "query", "path", "header"}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            names.update(str(key) for key in value.get("properties", {}))
            if "name" in value and "in" in value:
                names.add(str(value["name"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)
    return names


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    rejected_input_is_never_echoed,
]


def _exercise(case: Case[Any], cloud: LocalCloud) -> None:
    with requests.Session() as session:
        session.auth = SignedAsAdmin(cloud)
        case.call_and_validate(base_url=cloud.url, session=session, checks=CHECKS)


@pytest.mark.usefixtures("books")
@_schema("LivrosApi").parametrize()
def test_cadastro_de_livros_answers_every_generated_request_as_its_document_says(case: Case[Any], cloud: LocalCloud) -> None:
    _exercise(case, cloud)


@pytest.mark.usefixtures("books")
@_schema("OrdensApi").parametrize()
def test_ordem_de_compra_answers_every_generated_request_as_its_document_says(case: Case[Any], cloud: LocalCloud) -> None:
    _exercise(case, cloud)


@pytest.mark.usefixtures("books")
@_schema("PagamentosApi").parametrize()
def test_pagamento_answers_every_generated_request_as_its_document_says(case: Case[Any], cloud: LocalCloud) -> None:
    _exercise(case, cloud)
