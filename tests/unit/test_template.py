"""template.yaml and the code agree: every route's handler exists and serves that route, and the
functions carry the names and settings the telemetry and the services expect."""

from __future__ import annotations

import re

import pytest

from bookstore_dev import template
from bookstore_dev.template import Route
from tests.unit.test_bad_input import invoke

SERVICE_OF_PACKAGE = {"livros": "cadastro-de-livros", "ordens": "ordem-de-compra", "pagamentos": "pagamento"}
CONTRACT_ROUTES = {
    "POST /livros", "GET /livros", "GET /livros/{id}", "POST /ordens", "GET /ordens/{id}",
    "POST /pagamentos", "GET /pagamentos/{id}",
}  # fmt: skip


def test_every_route_of_the_contract_is_a_function_of_its_own() -> None:
    served = [f"{route.method} {route.path}" for route in template.routes()]
    assert set(served) >= CONTRACT_ROUTES
    assert len(served) == len(set(served))


@pytest.mark.parametrize("route", template.routes(), ids=lambda route: route.function)
def test_the_handler_serves_the_templates_route(route: Route) -> None:
    # Given a request on the template's route that is malformed in every part it has
    path = re.sub(r"\{\w+\}", "x", route.path)
    body: list[object] | None = [] if route.method == "POST" else None
    # When the template's handler gets it
    response = invoke(route, path, body=body, query="limit=0")
    # Then its resolver matched the route (an unknown route would be 404) and validated the input
    assert response["statusCode"] == 422, response["body"]


@pytest.mark.parametrize("route", template.routes(), ids=lambda route: route.function)
def test_each_function_names_its_service_and_its_own_secret(route: Route) -> None:
    package = route.handler.split(".")[0]
    environment = template.function_environment(route.function)
    assert environment["OTEL_SERVICE_NAME"] == SERVICE_OF_PACKAGE[package]
    assert f"{package.upper()}_DB_SECRET_NAME" in environment


def test_globals_target_the_python_312_runtime_with_the_shared_layer() -> None:
    functions = template.load()["Globals"]["Function"]
    assert functions["Runtime"] == "python3.12"
    assert functions["Layers"] == [{"Ref": "SharedLayer"}]
    assert template.load()["Resources"]["SharedLayer"]["Metadata"]["BuildMethod"] == "python3.12"


def test_context_crosses_api_gateway_in_traceparent_with_x_ray_off() -> None:
    # The X-Ray propagator, when listed first, would start traces of its own: on only if asked for.
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["OTEL_PROPAGATORS"] == "tracecontext,baggage"
