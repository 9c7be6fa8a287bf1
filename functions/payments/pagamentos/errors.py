"""Every domain error of Pagamento and the HTTP answer it gets."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from bookstore_shared.api import DomainError, map_domain_errors


class PagamentoNaoEncontrado(DomainError):
    message = "Pagamento não encontrado"


class PagamentoConflitante(DomainError):
    message = "Esta ordem já tem um pagamento com outro valor"


class ProcessadorIndisponivel(DomainError):
    message = "O processador de pagamentos falhou; nada foi cobrado"


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    map_domain_errors(app, {PagamentoNaoEncontrado: 404, PagamentoConflitante: 409, ProcessadorIndisponivel: 503})
