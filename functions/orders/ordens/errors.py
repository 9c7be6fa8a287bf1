"""Every domain error of Ordem de Compra and the HTTP answer it gets.

Orders that got an id answer with the order itself (see `service`); these errors are the cases
where no order is recorded, so the answer is a plain `{"message": ...}`."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from bookstore_shared.api import DomainError, map_domain_errors
from bookstore_shared.http_client import DependencyError, Failure


class LivroNaoEncontrado(DomainError):
    message = "Livro não encontrado"


class OrdemNaoEncontrada(DomainError):
    message = "Ordem não encontrada"


class ChaveDeIdempotenciaReutilizada(DomainError):
    message = "Idempotency-Key já usada para outra ordem"


class DependenciaIndisponivel(DomainError):
    """A dependency failed before any order was recorded (nothing to read back, nothing held)."""

    message = "Dependência indisponível"


# What API gateways answer for each way a dependency fails.
FAILURE_STATUS = {Failure.TIMEOUT: 504, Failure.UNAVAILABLE: 503, Failure.BAD_RESPONSE: 502}


def status_for(error: DependencyError) -> int:
    return FAILURE_STATUS[error.failure]


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    map_domain_errors(
        app,
        {
            LivroNaoEncontrado: 404,
            OrdemNaoEncontrada: 404,
            ChaveDeIdempotenciaReutilizada: 422,
            DependenciaIndisponivel: 503,
        },
    )
