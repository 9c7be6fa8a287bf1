"""The REST resolver every handler uses, with the answers common to all services:
`422` for any malformed request, `404` for an unknown route, `500` for a bug (logged, never
silenced). Each service adds its own domain errors in its `errors` module."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from bookstore_shared import telemetry
from bookstore_shared.responses import ErroDeValidacao, Problema

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def json_response(status_code: int, body: BaseModel | dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON answer; pydantic bodies are serialised in JSON mode (money as "49.90")."""
    payload = body.model_dump_json() if isinstance(body, BaseModel) else body
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=payload, headers=headers)


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response[Any]:
    return json_response(status_code, {"message": message, **extra}, headers=headers)


def _to_json(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def create_app(logger: Logger) -> APIGatewayRestResolver:
    # UTF-8 out as it came in: "Requisição", not "Requisi\u00e7\u00e3o".
    app = APIGatewayRestResolver(enable_validation=True, serializer=_to_json)

    def _invalid_request(error: RequestValidationError) -> Response[Any]:
        # Only where and why: pydantic's `input` would echo the request, card numbers included.
        detail = [Problema(loc=_where(issue), msg=issue.get("msg", ""), type=issue.get("type", "")) for issue in error.errors()]
        return json_response(422, ErroDeValidacao(message="Requisição inválida", detail=detail))

    def _unknown_route(_: NotFoundError) -> Response[Any]:
        return error_response(404, "Rota não encontrada")

    def _database_down(error: psycopg.OperationalError) -> Response[Any]:
        # The connection failed or dropped (and one reconnect failed too): the service cannot
        # answer now, and the caller may retry — a 503, not a bug's 500.
        # SQLSTATE and the server's first line say which (refused, terminated, deadlock…); neither
        # carries request data.
        reason = (str(error).strip().splitlines() or [""])[0]
        logger.error("database unavailable", extra={"error_type": type(error).__name__, "sqlstate": error.sqlstate, "reason": reason})
        return error_response(503, "Banco de dados indisponível", headers={"Retry-After": "5"})

    def _bug(error: Exception) -> Response[Any]:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(500, "Erro interno")

    app.exception_handler(RequestValidationError)(_invalid_request)
    app.exception_handler(NotFoundError)(_unknown_route)
    app.exception_handler(psycopg.OperationalError)(_database_down)
    app.exception_handler(Exception)(_bug)
    return app


def _where(issue: dict[str, Any]) -> list[str]:
    """Where the problem is, in the API's own names: a field the model does not have is named by
    the caller (its name could be a card number), so its location stops at the object holding it."""
    loc = [str(part) for part in issue.get("loc", ())]
    return loc[:-1] if issue.get("type") == "extra_forbidden" else loc


def lambda_handler(app: APIGatewayRestResolver, logger: Logger) -> Handler:
    """The function Lambda calls: Lambda context in every log line, a body the resolver cannot
    use refused first (see `unusable_body`), then the resolver."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        with telemetry.invocation(event) as finish:
            refusal = unusable_body(event)
            response = _proxy_response(*refusal) if refusal else app.resolve(event, context)
            finish(response)
            return response

    return handler


# Python refuses to turn longer digit strings into numbers (CVE-2020-10735); no field needs them.
MAX_NUMBER_DIGITS = 40


def unusable_body(event: dict[str, Any]) -> tuple[int, str] | None:
    """Why the request's body cannot reach the resolver, as (status, message), or None when it
    can: every route takes JSON objects, so a body that is not JSON (`415` for its content type,
    `400` for its text) never reaches the code that parses it, and never comes back in an answer.
    A NUL character is refused here too: PostgreSQL cannot store it in text."""
    body = event.get("body")
    if body is None or body == "":
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media_type = str(headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (media_type.startswith("application/") and media_type.endswith("+json")):
        return 415, "Content-Type deve ser application/json"
    try:
        text = base64.b64decode(body).decode("utf-8") if event.get("isBase64Encoded") else str(body)
        document = json.loads(text, parse_int=_bounded_int, parse_float=_bounded_decimal, parse_constant=_no_constant)
        has_nul = _has_nul(document)
    except (ValueError, RecursionError):  # not UTF-8, not JSON, a huge number, NaN, or nested too deep
        return 400, "Corpo não é um JSON válido"
    if has_nul:
        return 400, "Corpo com caractere NUL"
    _declare_json(event)
    return None


def _declare_json(event: dict[str, Any]) -> None:
    """Media types are case-insensitive (RFC 9110) but the resolver compares them as written:
    a JSON body it will read is declared to it as plain `application/json`."""
    for section in ("headers", "multiValueHeaders"):
        headers = event.get(section) or {}
        for name in [name for name in headers if name.lower() == "content-type"]:
            headers[name] = [content_types.APPLICATION_JSON] if section == "multiValueHeaders" else content_types.APPLICATION_JSON


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise ValueError("number too long")
    return int(text)


def _bounded_decimal(text: str) -> Decimal:
    # The same 40 digits as an integer (a point does not make a number shorter), and a short exponent.
    mantissa = text.lower().partition("e")[0]
    if sum(character.isdigit() for character in mantissa) > MAX_NUMBER_DIGITS or len(text) > MAX_NUMBER_DIGITS + 20:
        raise ValueError("number too long")
    return Decimal(text)


def _no_constant(text: str) -> None:
    raise ValueError(f"{text} is not JSON")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _proxy_response(status_code: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": _to_json({"message": message}),
        "isBase64Encoded": False,
    }


class DomainError(Exception):
    """Base of every service's domain errors; `extra` fields join the JSON error body, and
    `status_code`, when given, overrides the status the service maps the error type to."""

    message = "Erro de domínio"

    def __init__(self, message: str | None = None, *, status_code: int | None = None, **extra: Any) -> None:
        super().__init__(message or self.message)
        self.status_code = status_code
        self.extra = extra


def map_domain_errors(app: APIGatewayRestResolver, statuses: dict[type[DomainError], int]) -> None:
    """Registers one answer per domain error: its status, `{"message": ..., **extra}`."""
    for error_type, status_code in statuses.items():

        def _answer(error: DomainError, status_code: int = status_code) -> Response[Any]:
            return error_response(error.status_code or status_code, str(error), **error.extra)

        app.exception_handler(error_type)(_answer)
