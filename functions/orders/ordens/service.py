"""The order flow of the seed, made safe against retries, races and failing dependencies.

1. Validate the book (`GET /livros/{id}`): unknown → 404 and nothing is recorded.
2. Record the order as PENDENTE, with `valor_total` = price × quantity computed here.
3. Reserve the stock atomically in Cadastro de Livros (idempotent per order).
4. Charge the card in Pagamento (idempotent per order, so one retry is safe); if Pagamento may
   have charged without answering, cancel the payment (a refund, or a refusal of the late charge).
5. Conclude the order, or release the stock and record why it did not conclude.

Every step after 2 is idempotent, so an order interrupted midway (a dependency down while
compensating, its environment killed) stays PENDENTE and a retry with the same `Idempotency-Key`
finishes it. One no request finishes is ended by the reconciler (`reconciliar`), which gives its
stock and payment back.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from aws_lambda_powertools import Logger

from bookstore_shared import telemetry
from bookstore_shared.http_client import DependencyError, Failure
from ordens.clients import PagamentoRemoto, Reservou
from ordens.errors import (
    ChaveDeIdempotenciaReutilizada,
    DependenciaIndisponivel,
    LivroNaoEncontrado,
    OrdemNaoEncontrada,
    status_for,
)
from ordens.models import Motivo, NovaOrdem, OrdemRegistrada, StatusOrdem
from ordens.ports import LivrosApi, OrdensRepository, PagamentosApi

T = TypeVar("T")

ORDERS = telemetry.meter().create_counter("bookstore.orders", unit="{order}", description="Orders by final status and reason")


class Ordens:
    def __init__(self, repository: OrdensRepository, livros: LivrosApi, pagamentos: PagamentosApi, logger: Logger) -> None:
        self._logger = logger
        self._repository = repository
        self._livros = livros
        self._pagamentos = pagamentos

    def obter(self, ordem_id: UUID) -> OrdemRegistrada:
        ordem = self._repository.select_ordem(ordem_id)
        if ordem is None:
            raise OrdemNaoEncontrada()
        return ordem

    def criar(self, pedido: NovaOrdem, idempotency_key: str | None, posse_segundos: float) -> tuple[OrdemRegistrada, int]:
        """Places the order; returns it with the HTTP status its answer gets. The request owns the
        order it creates or resumes for `posse_segundos` (until it must have ended: its function's
        remaining time), so no other request with the key works on it meanwhile."""
        if idempotency_key is not None:
            anterior = self._repository.select_ordem_da_chave(idempotency_key)
            if anterior is not None:
                return self._repetir(anterior, pedido, posse_segundos)

        livro = self._chamar(Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL, lambda: self._livros.obter(pedido.livro_id))
        if livro is None:
            raise LivroNaoEncontrado()

        ordem = OrdemRegistrada(
            id=uuid4(),
            idempotency_key=idempotency_key,
            livro_id=pedido.livro_id,
            quantidade=pedido.quantidade,
            valor_total=(livro.preco * pedido.quantidade).quantize(Decimal("0.01")),
            status=StatusOrdem.PENDENTE,
            traceparent=telemetry.traceparent(),
        )
        if not self._repository.insert_ordem(ordem, posse_segundos):
            # Another request with the same key won the race: answer as its retry.
            assert idempotency_key is not None
            anterior = self._repository.select_ordem_da_chave(idempotency_key)
            assert anterior is not None
            return self._repetir(anterior, pedido, posse_segundos)
        self._logger.info("ordem registrada", extra={"ordem_id": str(ordem.id), "livro_id": ordem.livro_id})
        telemetry.current_span().set_attributes({"bookstore.order.id": str(ordem.id), "bookstore.book.id": ordem.livro_id})

        if livro.estoque < pedido.quantidade:
            # Quick refusal from the validation step; the reservation below is what guarantees it.
            return self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, Motivo.ESTOQUE_INSUFICIENTE, None, 409)
        return self._processar(ordem, pedido)

    def _repetir(self, anterior: OrdemRegistrada, pedido: NovaOrdem, posse_segundos: float) -> tuple[OrdemRegistrada, int]:
        if (anterior.livro_id, anterior.quantidade) != (pedido.livro_id, pedido.quantidade):
            raise ChaveDeIdempotenciaReutilizada()
        if anterior.status is StatusOrdem.PENDENTE:
            if self._repository.retomar_ordem(anterior.id, posse_segundos):
                self._logger.info("retomando ordem pendente", extra={"ordem_id": str(anterior.id)})
                return self._processar(anterior, pedido)
            anterior = self.obter(anterior.id)
            if anterior.status is StatusOrdem.PENDENTE:
                # Another request is working on it, or the reconciler is ending it: accepted, not
                # finished; GET /ordens/{id} will tell, and a later retry may finish it.
                return anterior, 202
        assert anterior.http_status is not None
        return anterior, anterior.http_status

    def reconciliar(self, ordem: OrdemRegistrada) -> OrdemRegistrada | None:
        """Ends an order that no request finished, through the same idempotent steps a failing
        order takes: its payment cancelled (refunded, or refused if it ever arrives), its stock
        released (a tombstone if the reservation never arrived), then NAO_CONCLUIDA with the first
        cause an attempt stored, or ORDEM_INTERROMPIDA. It is not concluded even if it was paid:
        the buyer was told it failed, and the card is not kept to finish it. Returns the finished
        order, or None when a dependency failed (it stays PENDENTE for the next run)."""
        try:
            pagamento_id = self._pagamentos.cancelar(ordem.id)
            self._livros.liberar(ordem.livro_id, ordem.id)
        except DependencyError as error:
            self._logger.warning(
                "reconciliação adiada: dependência falhou",
                extra={"ordem_id": str(ordem.id), "dependencia": error.dependency, "falha": error.failure.value},
            )
            return None
        final, _ = self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, Motivo.ORDEM_INTERROMPIDA, pagamento_id, 409)
        return final

    def _processar(self, ordem: OrdemRegistrada, pedido: NovaOrdem) -> tuple[OrdemRegistrada, int]:
        try:
            reservou = self._livros.reservar(ordem.livro_id, ordem.id, ordem.quantidade)
        except DependencyError as error:
            # A timed-out reservation may have been made: release it before giving up.
            return self._abandonar(ordem, Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL, error)
        if reservou is Reservou.SEM_ESTOQUE:
            return self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, Motivo.ESTOQUE_INSUFICIENTE, None, 409)
        if reservou is Reservou.LIVRO_NAO_EXISTE:
            return self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, Motivo.LIVRO_NAO_ENCONTRADO, None, 404)
        if reservou is Reservou.LIBERADA:
            # An earlier attempt released it (or its release came first): the order cannot hold
            # stock any more. It ends with that attempt's stored cause, or says just this.
            return self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, Motivo.RESERVA_LIBERADA, None, 409)

        try:
            pagamento = self._cobrar(ordem, pedido)
        except DependencyError as error:
            return self._desistir_do_pagamento(ordem, error)
        if not pagamento.aprovado:
            return self._liberar_e_finalizar(ordem, Motivo.PAGAMENTO_RECUSADO, pagamento.id, 402, cause=None)
        return self._finalizar(ordem, StatusOrdem.CONCLUIDA, None, pagamento.id, 201)

    def _cobrar(self, ordem: OrdemRegistrada, pedido: NovaOrdem) -> PagamentoRemoto:
        """Charges the card, asking once more if the first call fails (payments are idempotent per
        order, so that never charges twice). A second failure is raised from the first."""
        try:
            return self._pagamentos.pagar(ordem.id, ordem.valor_total, pedido.cartao)
        except DependencyError as first:
            self._logger.warning("pagamento falhou; tentando de novo", extra={"ordem_id": str(ordem.id), "falha": first.failure.value})
            try:
                return self._pagamentos.pagar(ordem.id, ordem.valor_total, pedido.cartao)
            except DependencyError as second:
                raise second from first

    def _desistir_do_pagamento(self, ordem: OrdemRegistrada, error: DependencyError) -> tuple[OrdemRegistrada, int]:
        """Payments did not answer. If a call may have reached it (a timeout, a 5xx), the card may
        have been charged: cancel the payment first, so an order that does not conclude is never
        charged; if even that fails, the order stays PENDENTE for a retry to settle."""
        attempts = [error, error.__cause__]
        uncertain = any(isinstance(attempt, DependencyError) and attempt.failure is not Failure.UNAVAILABLE for attempt in attempts)
        if not uncertain:
            return self._abandonar(ordem, Motivo.PAGAMENTO_INDISPONIVEL, error)
        try:
            pagamento_id = self._pagamentos.cancelar(ordem.id)
        except DependencyError as cancel_error:
            self._logger.error(
                "não foi possível cancelar o pagamento; ordem fica pendente",
                extra={"ordem_id": str(ordem.id), "falha": cancel_error.failure.value},
            )
            return self._manter_pendente(ordem, Motivo.PAGAMENTO_INDISPONIVEL, None, status_for(error), status_for(error))
        return self._liberar_e_finalizar(ordem, Motivo.PAGAMENTO_INDISPONIVEL, pagamento_id, status_for(error), cause=error)

    def _abandonar(self, ordem: OrdemRegistrada, motivo: Motivo, error: DependencyError) -> tuple[OrdemRegistrada, int]:
        self._logger.warning(
            "dependência falhou", extra={"ordem_id": str(ordem.id), "dependencia": error.dependency, "falha": error.failure.value}
        )
        return self._liberar_e_finalizar(ordem, motivo, None, status_for(error), cause=error)

    def _liberar_e_finalizar(
        self, ordem: OrdemRegistrada, motivo: Motivo, pagamento_id: UUID | None, http_status: int, cause: DependencyError | None
    ) -> tuple[OrdemRegistrada, int]:
        try:
            self._livros.liberar(ordem.livro_id, ordem.id)
        except DependencyError as release_error:
            # The stock may still be held: keep the order PENDENTE so a retry can finish the job.
            self._logger.error(
                "não foi possível liberar o estoque; ordem fica pendente",
                extra={"ordem_id": str(ordem.id), "falha": release_error.failure.value},
            )
            return self._manter_pendente(ordem, motivo, pagamento_id, http_status, status_for(cause or release_error))
        return self._finalizar(ordem, StatusOrdem.NAO_CONCLUIDA, motivo, pagamento_id, http_status)

    def _manter_pendente(
        self, ordem: OrdemRegistrada, motivo: Motivo, pagamento_id: UUID | None, http_status: int, answer_status: int
    ) -> tuple[OrdemRegistrada, int]:
        """Leaves the order PENDENTE (answered `answer_status` now), with its first cause and the
        status that cause ends it with stored (an earlier attempt's, if it had one): the retry that
        finishes it answers with that cause, not with what it meets on the way (a payment it
        cancelled itself, a reservation it released itself)."""
        pendente = ordem.model_copy(
            update={
                "motivo": ordem.motivo or motivo,
                "pagamento_id": pagamento_id or ordem.pagamento_id,
                "http_status": ordem.http_status or http_status,
            }
        )
        assert pendente.http_status is not None
        if not self._repository.update_ordem_pendente(
            ordem.id, StatusOrdem.PENDENTE, pendente.motivo, pendente.pagamento_id, pendente.http_status
        ):
            return self._finalizada_por_outra(ordem.id)
        return pendente, answer_status

    def _finalizar(
        self, ordem: OrdemRegistrada, status: StatusOrdem, motivo: Motivo | None, pagamento_id: UUID | None, http_status: int
    ) -> tuple[OrdemRegistrada, int]:
        if status is StatusOrdem.NAO_CONCLUIDA and ordem.motivo is not None:
            # An order an earlier attempt left PENDENTE ends with that attempt's cause.
            motivo, http_status, pagamento_id = ordem.motivo, ordem.http_status or http_status, pagamento_id or ordem.pagamento_id
        if not self._repository.update_ordem_pendente(ordem.id, status, motivo, pagamento_id, http_status):
            return self._finalizada_por_outra(ordem.id)
        self._logger.info("ordem finalizada", extra={"ordem_id": str(ordem.id), "status": status.value, "motivo": motivo})
        outcome = {"bookstore.order.status": status.value, "bookstore.order.reason": motivo.value if motivo else "none"}
        ORDERS.add(1, outcome)
        telemetry.current_span().set_attributes({"bookstore.order.id": str(ordem.id), **outcome})
        final = ordem.model_copy(update={"status": status, "motivo": motivo, "pagamento_id": pagamento_id, "http_status": http_status})
        return final, http_status

    def _finalizada_por_outra(self, ordem_id: UUID) -> tuple[OrdemRegistrada, int]:
        """A concurrent retry finished the order first; both saw the same idempotent answers.
        (A finished order never changes again, so reading it back in a transaction of its own is safe.)"""
        concurrent = self._repository.select_ordem(ordem_id)
        assert concurrent is not None
        assert concurrent.http_status is not None
        return concurrent, concurrent.http_status

    def _chamar(self, motivo: Motivo, call: Callable[[], T]) -> T:
        """A call made before the order is recorded: a failure leaves nothing to clean up."""
        try:
            return call()
        except DependencyError as error:
            self._logger.warning("dependência falhou", extra={"dependencia": error.dependency, "falha": error.failure.value})
            raise DependenciaIndisponivel(status_code=status_for(error), status="NAO_CONCLUIDA", motivo=motivo.value) from error
