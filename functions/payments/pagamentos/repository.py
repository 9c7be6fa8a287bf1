"""Data access of Pagamento: SQL only, inside the transaction the caller opened."""

from __future__ import annotations

from uuid import UUID

from bookstore_shared.database import Connection
from pagamentos.models import Pagamento


def insert_pagamento(connection: Connection, pagamento: Pagamento) -> bool:
    """Stores the payment; False when the order already has one (then nothing is written)."""
    row = connection.execute(
        "INSERT INTO pagamentos (id, ordem_id, valor, status, motivo, cartao_final) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (ordem_id) DO NOTHING RETURNING id",
        (pagamento.id, pagamento.ordem_id, pagamento.valor, pagamento.status, pagamento.motivo, pagamento.cartao_final),
    ).fetchone()
    return row is not None


def select_pagamento(connection: Connection, pagamento_id: UUID) -> Pagamento | None:
    row = connection.execute(
        "SELECT id, ordem_id, valor, status, motivo, cartao_final FROM pagamentos WHERE id = %s", (pagamento_id,)
    ).fetchone()
    return Pagamento.model_validate(row) if row else None


def select_pagamento_da_ordem(connection: Connection, ordem_id: UUID) -> Pagamento | None:
    row = connection.execute(
        "SELECT id, ordem_id, valor, status, motivo, cartao_final FROM pagamentos WHERE ordem_id = %s", (ordem_id,)
    ).fetchone()
    return Pagamento.model_validate(row) if row else None


def lock_order(connection: Connection, ordem_id: UUID) -> None:
    """Serialises the charge and the cancellation of one order until the transaction ends."""
    connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s::text, 0))", (ordem_id,))


def insert_cancelamento(connection: Connection, ordem_id: UUID) -> None:
    connection.execute("INSERT INTO cancelamentos (ordem_id) VALUES (%s) ON CONFLICT (ordem_id) DO NOTHING", (ordem_id,))


def is_cancelled(connection: Connection, ordem_id: UUID) -> bool:
    return connection.execute("SELECT 1 FROM cancelamentos WHERE ordem_id = %s", (ordem_id,)).fetchone() is not None


def refund(connection: Connection, ordem_id: UUID) -> None:
    connection.execute("UPDATE pagamentos SET status = 'ESTORNADO' WHERE ordem_id = %s AND status = 'APROVADO'", (ordem_id,))
