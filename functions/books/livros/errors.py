"""Every domain error of Cadastro de Livros and the HTTP answer it gets."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from bookstore_shared.api import DomainError, map_domain_errors


class LivroNaoEncontrado(DomainError):
    message = "Livro não encontrado"


class ReservaNaoEncontrada(DomainError):
    message = "Reserva não encontrada"


class EstoqueInsuficiente(DomainError):
    message = "Estoque insuficiente"


class ReservaConflitante(DomainError):
    message = "Esta ordem já tem uma reserva diferente"


class ReservaLiberada(DomainError):
    """The order's reservation was released (or its release came first): it holds nothing, for good."""

    message = "A reserva desta ordem já foi liberada"

    def __init__(self) -> None:
        super().__init__(motivo="RESERVA_LIBERADA")


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    map_domain_errors(
        app,
        {
            LivroNaoEncontrado: 404,
            ReservaNaoEncontrada: 404,
            EstoqueInsuficiente: 409,
            ReservaConflitante: 409,
            ReservaLiberada: 409,
        },
    )
