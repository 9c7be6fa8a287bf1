"""The answers each route declares in its OpenAPI description (Powertools `responses=`), made of
the same models the answers are built from, so the published description (`make openapi`,
docs/openapi/) and the schema-driven fuzzing (tests/integration/test_fuzz.py) hold the code to its
word: a route that answers a status or a body shape it does not declare fails the fuzz run.

Every route declares `COMMON`, what any request may get before or beside its route's own work:
`400`/`415` from `bookstore_shared.api.unusable_body`, `413` from API Gateway, `422` for invalid
input, `503` while the database is down. A `500` is never declared: it is a bug."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel, ConfigDict, RootModel


class Erro(BaseModel):
    """Every error answer: a message; a domain error may add fields of its own (`motivo`…)."""

    message: str


class Problema(BaseModel):
    """One reason a request is invalid: where (`loc`: "body", "cartao", "numero"…) and why —
    never the value sent."""

    model_config = ConfigDict(extra="forbid")

    loc: list[str]
    msg: str
    type: str


class ErroDeValidacao(BaseModel):
    """The 422 for invalid input."""

    model_config = ConfigDict(extra="forbid")

    message: str
    detail: list[Problema]


class RecusaDaRequisicao(RootModel[ErroDeValidacao | Erro]):
    """A 422 that is either invalid input or a request a route's rule refuses (a reused key)."""


def answer(description: str, model: Any = Erro, headers: dict[str, OpenAPIResponseHeader] | None = None) -> OpenAPIResponse:
    """One declared answer: a JSON body of `model` (a pydantic model, or a RootModel of a union)."""
    declared: OpenAPIResponse = {"description": description, "content": {"application/json": {"model": model}}}
    if headers:
        declared["headers"] = headers
    return declared


LOCATION: dict[str, OpenAPIResponseHeader] = {"Location": {"description": "Where the new resource is read", "schema": {"type": "string"}}}
RETRY_AFTER: dict[str, OpenAPIResponseHeader] = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}

COMMON: dict[int, OpenAPIResponse] = {
    400: answer("The body is not UTF-8 JSON text (NaN, a number of more than 40 digits, nesting too deep) or holds a NUL character"),
    413: answer("The request is over Lambda's 6 MB payload quota (API Gateway's answer)"),
    415: answer("The body's Content-Type is not application/json"),
    422: answer("Invalid input: where and why, never the value sent", ErroDeValidacao),
    503: answer("The service's database is unavailable; try again", headers=RETRY_AFTER),
}


def responses(own: dict[int, OpenAPIResponse]) -> dict[int, OpenAPIResponse]:
    """A route's declared answers: its own, then the common ones it does not redefine."""
    return {**COMMON, **own}
