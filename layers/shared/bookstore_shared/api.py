"""The REST resolver every handler uses, with the answers common to all services:
`422` for any malformed request, `404` for an unknown route, `500` for a bug (logged, never
silenced). Each service adds its own domain errors in its `errors` module."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from bookstore_shared import telemetry

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def json_response(status_code: int, body: BaseModel | dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    """A JSON answer; pydantic bodies are serialised in JSON mode (money as "49.90")."""
    payload = body.model_dump_json() if isinstance(body, BaseModel) else body
    return Response(status_code=status_code, content_type=content_types.APPLICATION_JSON, body=payload, headers=headers)


def error_response(status_code: int, message: str, **extra: Any) -> Response[Any]:
    return json_response(status_code, {"message": message, **extra})


def _to_json(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)


def create_app(logger: Logger) -> APIGatewayRestResolver:
    # UTF-8 out as it came in: "Requisição", not "Requisi\u00e7\u00e3o".
    app = APIGatewayRestResolver(enable_validation=True, serializer=_to_json)

    def _invalid_request(error: RequestValidationError) -> Response[Any]:
        # Only where and why: pydantic's `input` would echo the request, card numbers included.
        detail = [
            {"loc": [str(part) for part in issue.get("loc", ())], "msg": issue.get("msg", ""), "type": issue.get("type", "")}
            for issue in error.errors()
        ]
        return error_response(422, "Requisição inválida", detail=detail)

    def _unknown_route(_: NotFoundError) -> Response[Any]:
        return error_response(404, "Rota não encontrada")

    def _bug(error: Exception) -> Response[Any]:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return error_response(500, "Erro interno")

    app.exception_handler(RequestValidationError)(_invalid_request)
    app.exception_handler(NotFoundError)(_unknown_route)
    app.exception_handler(Exception)(_bug)
    return app


def lambda_handler(app: APIGatewayRestResolver, logger: Logger) -> Handler:
    """The function Lambda calls: Lambda context in every log line, then the resolver."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        with telemetry.invocation(event) as finish:
            response = app.resolve(event, context)
            finish(response)
            return response

    return handler


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
