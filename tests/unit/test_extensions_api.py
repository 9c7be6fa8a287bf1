"""The Extensions and Telemetry APIs' answers to what an extension gets wrong, as the Lambda
emulator's source gives them (status and errorType)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localcloud.extensions_api import MAX_EXTENSIONS, ApiError, Extensions


@pytest.fixture
def extensions() -> Iterator[Extensions]:
    api = Extensions("Fn", "app.handler", "123456789012", {"external-one"}, lambda: None)
    yield api
    api.close()


def register(api: Extensions, name: str | None, events: tuple[str, ...] = ("INVOKE",)) -> ApiError | None:
    """The refusal of a registration, or None when it is taken."""
    try:
        api.register(name, json.dumps({"events": list(events)}).encode())
    except ApiError as error:
        return error
    return None


def subscription(**changes: object) -> bytes:
    body: dict[str, object] = {
        "schemaVersion": "2022-12-13",
        "types": ["platform", "function"],
        "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100},
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080"},
    }
    body.update(changes)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("name", "events", "error_type"),
    [
        ("", ("INVOKE",), "Extension.InvalidExtensionName"),
        (None, ("INVOKE",), "Extension.InvalidExtensionName"),
        ("x", ("INVOKE", "RESTORE"), "Extension.InvalidEventType"),
        ("internal-one", ("INVOKE", "SHUTDOWN"), "Extension.InvalidEventType"),
    ],
)
def test_a_bad_registration_is_refused_with_aws_error_type(
    extensions: Extensions, name: str | None, events: tuple[str, ...], error_type: str
) -> None:
    error = register(extensions, name, events)
    assert error is not None
    assert (error.status, error.error_type) == (403, error_type)
    assert not extensions.registered


def test_a_body_that_is_not_json_is_refused(extensions: Extensions) -> None:
    with pytest.raises(ApiError) as refused:
        extensions.register("x", b"")
    assert refused.value.error_type == "InvalidRequestFormat"


def test_an_external_extension_may_ask_for_shutdown_and_a_name_registers_once(extensions: Extensions) -> None:
    assert register(extensions, "external-one", ("INVOKE", "SHUTDOWN")) is None
    (extension,) = extensions.registered
    assert not extension.internal
    error = register(extensions, "external-one")
    assert error is not None
    assert error.error_type == "Extension.InvalidExtensionState"


def test_registration_closes_and_the_limit_is_ten(extensions: Extensions) -> None:
    for number in range(MAX_EXTENSIONS):
        assert register(extensions, f"internal-{number}") is None
    too_many = register(extensions, "one-more")
    assert too_many is not None
    assert too_many.error_type == "Extension.TooManyExtensions"
    extensions.close_registration()
    closed = register(extensions, "late")
    assert closed is not None
    assert closed.error_type == "Extension.RegistrationClosed"


def test_the_registration_answer_names_the_function_and_the_account_only_when_asked(extensions: Extensions) -> None:
    extension, answer = extensions.register("a", b'{"events": ["INVOKE"]}')
    assert json.loads(answer) == {"functionName": "Fn", "functionVersion": "$LATEST", "handler": "app.handler"}
    _, with_account = extensions.register("b", b'{"events": ["INVOKE"]}', "accountId")
    assert json.loads(with_account)["accountId"] == "123456789012"
    assert extension.identifier


@pytest.mark.parametrize(
    ("identifier", "error_type"), [(None, "Extension.MissingExtensionIdentifier"), ("nope", "Extension.UnknownExtensionIdentifier")]
)
def test_next_needs_a_known_identifier(extensions: Extensions, identifier: str | None, error_type: str) -> None:
    with pytest.raises(ApiError) as refused:
        extensions.next_event(identifier)
    assert refused.value.error_type == error_type


def test_an_error_report_needs_its_type_and_marks_the_extension_failed(extensions: Extensions) -> None:
    extension, _ = extensions.register("a", b'{"events": ["INVOKE"]}')
    with pytest.raises(ApiError) as refused:
        extensions.report_error(extension.identifier, "init", None)
    assert refused.value.error_type == "Extension.MissingHeader"
    extensions.report_error(extension.identifier, "init", "Extension.ConfigInvalid")
    assert extensions.failed() is extension


@pytest.mark.parametrize(
    "changes",
    [
        {"schemaVersion": "2020-01-01"},
        {"types": []},
        {"types": ["platform", "metrics"]},
        {"buffering": {"maxItems": 10}},
        {"buffering": {"timeoutMs": 10}},
        {"destination": {"protocol": "TCP", "port": 9000}},
        {"destination": {"protocol": "HTTP", "URI": "http://example.com:8080"}},
        {"destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}},
    ],
)
def test_a_bad_telemetry_subscription_is_a_validation_error(extensions: Extensions, changes: dict[str, object]) -> None:
    extension, _ = extensions.register("a", b'{"events": ["INVOKE"]}')
    with pytest.raises(ApiError) as refused:
        extensions.telemetry.subscribe(extension, subscription(**changes))
    assert (refused.value.status, refused.value.error_type) == (400, "ValidationError")


def test_subscriptions_close_with_the_init(extensions: Extensions) -> None:
    extension, _ = extensions.register("a", b'{"events": ["INVOKE"]}')
    assert extensions.telemetry.subscribe(extension, subscription()) == b'"OK"'
    extensions.telemetry.end_backlog()
    with pytest.raises(ApiError) as refused:
        extensions.telemetry.subscribe(extension, subscription())
    assert (refused.value.status, refused.value.error_type) == (403, "Telemetry.SubscriptionClosed")
