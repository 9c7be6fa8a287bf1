"""template.yaml and the code agree: every route's handler exists and serves that route, and the
functions follow the one naming convention that gives each service its names (bookstore_dev.services)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from bookstore_dev import template
from bookstore_dev.services import TemplateConventionError, databases, services
from bookstore_dev.template import Route
from tests.unit.test_bad_input import request

# The contract of DESIGN.md: what the services are called in the telemetry, and their public routes.
CONTRACT_SERVICES = {"cadastro-de-livros", "ordem-de-compra", "pagamento"}
CONTRACT_ROUTES = {
    "POST /livros", "GET /livros", "GET /livros/{id}", "POST /ordens", "GET /ordens/{id}",
    "POST /pagamentos", "GET /pagamentos/{id}",
}  # fmt: skip


def test_every_route_of_the_contract_is_a_function_of_its_own() -> None:
    served = [f"{route.method} {route.path}" for route in template.routes()]
    assert set(served) >= CONTRACT_ROUTES
    assert len(served) == len(set(served))


@pytest.mark.parametrize("route", template.routes(), ids=lambda route: route.function)
def test_the_handler_serves_the_templates_route(gateway: FlaskClient, route: Route) -> None:
    # Given a request on the template's route that is malformed in every part it has
    path = re.sub(r"\{\w+\}", "x", route.path)
    body: list[object] | None = [] if route.method == "POST" else None
    # When the API Gateway hands it to the template's handler
    response = request(gateway, route.method, path, body=body, query="limit=0")
    # Then its resolver matched the route (an unknown route would be 404) and validated the input
    assert response.status_code == 422, response.text


def test_the_template_names_the_contracts_services_each_with_its_own_database_and_secret() -> None:
    found = services()
    assert {service.name for service in found} >= CONTRACT_SERVICES
    assert len({service.database for service in databases()}) == len(found)
    assert len({service.secret_name for service in databases()}) == len(found)
    assert len({service.api for service in found}) == len(found)


BROKEN_CONVENTIONS = [
    # (what a newcomer writes in one books function instead, what the error says)
    (("OTEL_SERVICE_NAME: cadastro-de-livros", "OTEL_SERVICE_NAME: livraria"), r"OTEL_SERVICE_NAME.*cadastro-de-livros, livraria"),
    (("LIVROS_DB_SECRET_NAME: !Ref LivrosDbSecretName", "LIVROS_DB_SECRET_NAME: livros/db"), r"LIVROS_DB_SECRET_NAME: !Ref <parameter>"),
]


@pytest.mark.parametrize(("change", "error"), BROKEN_CONVENTIONS, ids=["another service name", "a secret not by !Ref"])
def test_a_function_breaking_the_convention_is_named_in_the_error(tmp_path: Path, change: tuple[str, str], error: str) -> None:
    # Given a template where one function of the books folder breaks the naming convention
    broken = tmp_path / "template.yaml"
    broken.write_text(template.TEMPLATE.read_text().replace(*change, 1))
    # When the services are read from it
    # Then the error names the folder and what differs (a service is never silently taken for another kind)
    with pytest.raises(TemplateConventionError, match=rf"functions/books.*{error}"):
        services(broken)


def test_globals_target_the_python_312_runtime_with_the_shared_layer() -> None:
    functions = template.load()["Globals"]["Function"]
    assert functions["Runtime"] == "python3.12"
    assert functions["Layers"] == [{"Ref": "SharedLayer"}]
    assert template.load()["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "python3.12"


def test_context_crosses_api_gateway_in_traceparent_with_x_ray_off() -> None:
    # The X-Ray propagator, when listed first, would start traces of its own: on only if asked for.
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["OTEL_PROPAGATORS"] == "tracecontext,baggage"


def test_a_secret_parameter_given_at_start_names_the_secret() -> None:
    # Given the secret parameter of books overridden, as --parameter-overrides does
    found = {service.package: service for service in services(template.TEMPLATE, {"LivrosDbSecretName": "outro/livros"})}
    # Then books' secret is the overridden one, and the others keep their defaults
    assert found["livros"].secret_name == "outro/livros"
    assert found["ordens"].secret_name == "bookstore/ordens/db"
