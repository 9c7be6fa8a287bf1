"""Data access of Ordem de Compra: SQL only, inside the transaction the caller opened."""

from __future__ import annotations

from uuid import UUID

from bookstore_shared.database import Connection
from ordens.models import Motivo, OrdemRegistrada, StatusOrdem


def insert_ordem(connection: Connection, ordem: OrdemRegistrada) -> bool:
    """Stores a new PENDENTE order; False when its Idempotency-Key is already taken."""
    row = connection.execute(
        "INSERT INTO ordens (id, idempotency_key, livro_id, quantidade, valor_total, status)"
        " VALUES (%s, %s, %s, %s, %s, 'PENDENTE') ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        (ordem.id, ordem.idempotency_key, ordem.livro_id, ordem.quantidade, ordem.valor_total),
    ).fetchone()
    return row is not None


SELECT_ORDEM = "SELECT id, idempotency_key, livro_id, quantidade, valor_total, status, motivo, pagamento_id, http_status FROM ordens"


def select_ordem(connection: Connection, ordem_id: UUID) -> OrdemRegistrada | None:
    row = connection.execute(SELECT_ORDEM + " WHERE id = %s", (ordem_id,)).fetchone()
    return OrdemRegistrada.model_validate(row) if row else None


def select_ordem_da_chave(connection: Connection, idempotency_key: str) -> OrdemRegistrada | None:
    row = connection.execute(SELECT_ORDEM + " WHERE idempotency_key = %s", (idempotency_key,)).fetchone()
    return OrdemRegistrada.model_validate(row) if row else None


def finish_ordem(
    connection: Connection,
    ordem_id: UUID,
    status: StatusOrdem,
    motivo: Motivo | None,
    pagamento_id: UUID | None,
    http_status: int,
) -> bool:
    """Moves a PENDENTE order to its final state; False if another request already did."""
    row = connection.execute(
        "UPDATE ordens SET status = %s, motivo = %s, pagamento_id = %s, http_status = %s, atualizada_em = now()"
        " WHERE id = %s AND status = 'PENDENTE' RETURNING id",
        (status, motivo, pagamento_id, http_status, ordem_id),
    ).fetchone()
    return row is not None
