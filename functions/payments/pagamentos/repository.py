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
