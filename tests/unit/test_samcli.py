"""The SAM CLI internals the local cloud uses (localcloud/samcli.py), checked against the pinned
aws-sam-cli: what a new version would break shows here first, with no process or socket."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import samcli

FIXTURE = Path(__file__).resolve().parent.parent / "localcloud" / "fixtures" / "template.yaml"


@pytest.fixture
def stacks() -> samcli.Stacks:
    return samcli.load_stacks(FIXTURE, {"Greeting": "oi"}, "us-east-1")


def test_the_pinned_version_is_the_one_installed() -> None:
    from samcli import __version__

    assert __version__ == samcli.VERSION


def test_the_template_is_read_with_globals_parameters_and_routes(stacks: samcli.Stacks) -> None:
    hello = stacks.functions["HelloFunction"]
    # Globals merged into the function
    assert (hello.handler, hello.memory, hello.timeout) == ("hello.handler", 128, 2)
    assert hello.codeuri is not None
    assert Path(hello.codeuri).name == "functions"
    # And every Api event is a route
    assert ("/hello", "HelloFunction") in {(route.path, route.function_name) for route in stacks.api.routes}
    assert stacks.resources["HelloFunction"]["Type"] == "AWS::Serverless::Function"


@pytest.fixture
def shell_variable() -> Iterator[None]:
    os.environ["FAREWELL"] = "from the shell"
    yield
    del os.environ["FAREWELL"]


@pytest.mark.usefixtures("shell_variable")
def test_the_environment_resolves_parameters_and_overrides_but_not_the_shell(stacks: samcli.Stacks) -> None:
    # Given a shell that sets one of the function's variables, and an override for another
    # When the function's environment is resolved
    variables = samcli.resolve_environment(stacks.functions["HelloFunction"], {"GREETING": "bom dia"}, "us-east-1")
    # Then the override wins over the parameter, and the template's value over the shell's
    assert variables["GREETING"] == "bom dia"
    assert variables["FAREWELL"] == "tchau"
    assert variables["AWS_REGION"] == "us-east-1"


def test_the_gateway_sends_sam_locals_event_and_answers_with_the_functions_response(stacks: samcli.Stacks) -> None:
    # Given SAM's gateway in front of a function that echoes the event it gets
    events: list[dict[str, object]] = []

    def invoke(function: str, event: bytes) -> bytes:
        events.append({"function": function, **json.loads(event)})
        return json.dumps({"statusCode": 201, "headers": {"X-Function": function}, "body": "ok"}).encode()

    client = samcli.gateway_app(stacks.api, invoke).test_client()
    # When a request comes in on a route with a query string
    response = client.get("/hello?nome=ana", headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    # Then the function got API Gateway's REST proxy event, and the caller got its response
    assert (response.status_code, response.text, response.headers["X-Function"]) == (201, "ok", "HelloFunction")
    event = events[0]
    assert (event["function"], event["httpMethod"], event["resource"], event["path"]) == ("HelloFunction", "GET", "/hello", "/hello")
    assert event["queryStringParameters"] == {"nome": "ana"}
    assert event["headers"]["Traceparent"].startswith("00-aaaa")  # type: ignore[index]  # as sam local spells it
    assert event["requestContext"]["resourcePath"] == "/hello"  # type: ignore[index]


def test_a_failed_invocation_is_api_gateways_502(stacks: samcli.Stacks) -> None:
    def invoke(function: str, event: bytes) -> bytes:
        raise samcli.FunctionFailed(function)

    response = samcli.gateway_app(stacks.api, invoke).test_client().get("/hello")
    assert response.status_code == 502
    assert response.json == {"message": "Internal server error"}


def test_an_unknown_route_is_api_gateways_403(stacks: samcli.Stacks) -> None:
    response = samcli.gateway_app(stacks.api, lambda function, event: b"{}").test_client().get("/nowhere")
    assert response.status_code == 403
    assert response.json == {"message": "Missing Authentication Token"}
