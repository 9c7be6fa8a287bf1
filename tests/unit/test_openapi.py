"""The published OpenAPI description (docs/openapi/) is what the code says, and says all of it:
every route of the template, with the answers it really gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bookstore_dev import openapi
from bookstore_dev.services import services
from bookstore_dev.template import routes


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    # This session's environment is a cold start's with nothing behind it (see conftest), as
    # `make openapi` gives the generator.
    return openapi.documents()


def test_the_committed_documents_are_what_the_code_says(documents: dict[str, dict[str, Any]]) -> None:
    # Given the documents generated from the handlers' routes and models now
    # When each is compared with the one committed under docs/openapi/
    stale = [api for api, document in documents.items() if openapi.text(document) != _committed(api)]
    # Then none differs: the code is the one source, `make openapi` writes the files
    assert not stale, f"docs/openapi/ is stale for {stale}: run `make openapi` and commit the result"


def test_there_is_one_document_per_api_of_the_template(documents: dict[str, dict[str, Any]]) -> None:
    apis = {service.api for service in services() if service.api}
    assert set(documents) == apis
    assert {path.stem for path in openapi.OUTPUT.glob("*.json")} == apis, "a document of an API the template no longer has"


def test_every_route_of_the_template_is_described_in_its_apis_document(documents: dict[str, dict[str, Any]]) -> None:
    # Given every route the template declares, by the API its function belongs to
    api_of = {function: service.api for service in services() for function in service.functions}
    declared = {(api_of[route.function], route.path, route.method.lower()) for route in routes()}
    # Then the documents describe exactly those operations
    described = {
        (api, path, method)
        for api, document in documents.items()
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert described == declared


def test_every_operation_declares_its_success_and_the_common_answers(documents: dict[str, dict[str, Any]]) -> None:
    for api, document in documents.items():
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                statuses = {int(status) for status in operation["responses"]}
                assert any(200 <= status < 300 for status in statuses), f"{api} {method} {path}: no success declared"
                assert {400, 413, 415, 422, 503} <= statuses, f"{api} {method} {path}: {sorted(statuses)}"
                assert 500 not in statuses, "a 500 is a bug, never part of the contract"


def test_the_422_body_is_described_as_it_is_sent_message_and_detail_of_loc_msg_type(documents: dict[str, dict[str, Any]]) -> None:
    schemas = documents["LivrosApi"]["components"]["schemas"]
    assert schemas["ErroDeValidacao"]["required"] == ["message", "detail"]
    assert set(schemas["Problema"]["properties"]) == {"loc", "msg", "type"}


def test_money_in_answers_is_described_as_a_string_with_two_decimals(documents: dict[str, dict[str, Any]]) -> None:
    livro = documents["LivrosApi"]["components"]["schemas"]["Livro"]["properties"]["preco"]
    assert livro["type"] == "string"
    assert livro["pattern"] == r"^[0-9]{1,10}\.[0-9]{2}$"


def _committed(api: str) -> str | None:
    path = openapi.path_of(api)
    return path.read_text() if path.exists() else None


def test_the_documents_are_json_with_a_title_and_version_per_service() -> None:
    for path in openapi.OUTPUT.glob("*.json"):
        document = json.loads(path.read_text())
        assert document["openapi"].startswith("3.")
        assert document["info"]["title"] in {service.name for service in services()}
