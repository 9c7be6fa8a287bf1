"""Domain logic of Pagamento: a card processor for test cards, as payment providers offer.

The card number must pass the Luhn check (the request model refuses it otherwise); two numbers
are declined, as providers' test cards are; any other valid number is approved."""

from __future__ import annotations

from uuid import UUID, uuid4

from bookstore_shared import flags, telemetry
from bookstore_shared.database import Connection, Database
from pagamentos import repository
from pagamentos.errors import PagamentoConflitante, PagamentoNaoEncontrado, ProcessadorIndisponivel
from pagamentos.models import Cancelamento, MotivoRecusa, NovoPagamento, Pagamento, StatusPagamento

PAYMENT_AMOUNT = telemetry.meter().create_histogram("bookstore.payment.amount", unit="BRL", description="Amounts charged, by outcome")

DECLINED_TEST_CARDS = {
    "4000000000000002": MotivoRecusa.CARTAO_RECUSADO,
    "4000000000009995": MotivoRecusa.SALDO_INSUFICIENTE,
}


def decide(numero: str) -> tuple[StatusPagamento, MotivoRecusa | None]:
    motivo = DECLINED_TEST_CARDS.get(numero)
    return (StatusPagamento.RECUSADO, motivo) if motivo else (StatusPagamento.APROVADO, None)


class Pagamentos:
    def __init__(self, database: Database) -> None:
        self._database = database

    def processar(self, pedido: NovoPagamento) -> tuple[Pagamento, bool]:
        """Charges the order once. Returns the payment and whether it is new; a repeat for the same
        order returns the first payment, whatever card it brings."""
        # The faults a class turns on (see bookstore_shared.flags): before anything is written.
        flags.delay("paymentSlow")
        if flags.happens("paymentFailure"):
            raise ProcessadorIndisponivel()
        status, motivo = decide(pedido.cartao.numero)

        def work(connection: Connection) -> tuple[Pagamento, bool]:
            repository.lock_order(connection, pedido.ordem_id)
            existing = repository.select_pagamento_da_ordem(connection, pedido.ordem_id)
            if existing is not None:
                if existing.valor != pedido.valor:
                    raise PagamentoConflitante()
                return existing, False
            cancelled = repository.is_cancelled(connection, pedido.ordem_id)
            pagamento = Pagamento(
                id=uuid4(),
                ordem_id=pedido.ordem_id,
                valor=pedido.valor,
                status=StatusPagamento.RECUSADO if cancelled else status,
                motivo=MotivoRecusa.ORDEM_CANCELADA if cancelled else motivo,
                cartao_final=pedido.cartao.final,
            )
            repository.insert_pagamento(connection, pagamento)
            return pagamento, True

        pagamento, novo = self._database.run(work)
        attributes = {"bookstore.payment.status": pagamento.status.value}
        if novo:
            PAYMENT_AMOUNT.record(float(pagamento.valor), attributes)
        telemetry.current_span().set_attributes(
            {"bookstore.payment.id": str(pagamento.id), "bookstore.order.id": str(pagamento.ordem_id), **attributes}
        )
        return pagamento, novo

    def cancelar(self, ordem_id: UUID) -> Cancelamento:
        """Cancels the order's payment, idempotently: refunds it if it was approved; if it has
        not arrived yet, it will be refused when it does."""

        def work(connection: Connection) -> Cancelamento:
            repository.lock_order(connection, ordem_id)
            repository.insert_cancelamento(connection, ordem_id)
            repository.refund(connection, ordem_id)
            return Cancelamento(ordem_id=ordem_id, pagamento=repository.select_pagamento_da_ordem(connection, ordem_id))

        cancelamento = self._database.run(work)
        telemetry.current_span().set_attribute("bookstore.order.id", str(ordem_id))
        return cancelamento

    def obter(self, pagamento_id: UUID) -> Pagamento:
        pagamento = self._database.run(lambda connection: repository.select_pagamento(connection, pagamento_id))
        if pagamento is None:
            raise PagamentoNaoEncontrado()
        return pagamento
