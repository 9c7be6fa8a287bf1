"""Data access of Ordem de Compra: SQL only, each call one transaction of `Database.run`."""

from __future__ import annotations

from uuid import UUID

from bookstore_shared.database import Connection, Database
from ordens.models import Motivo, OrdemRegistrada, StatusOrdem

SELECT_ORDEM = "SELECT id, idempotency_key, livro_id, quantidade, valor_total, status, motivo, pagamento_id, http_status FROM ordens"


class PostgresOrdensRepository:
    """The `ports.OrdensRepository` of the running service, on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def insert_ordem(self, ordem: OrdemRegistrada) -> bool:
        """Stores a new PENDENTE order; False when its Idempotency-Key is already taken."""

        def work(connection: Connection) -> bool:
            row = connection.execute(
                "INSERT INTO ordens (id, idempotency_key, livro_id, quantidade, valor_total, status)"
                " VALUES (%s, %s, %s, %s, %s, 'PENDENTE') ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (ordem.id, ordem.idempotency_key, ordem.livro_id, ordem.quantidade, ordem.valor_total),
            ).fetchone()
            return row is not None

        return self._database.run(work)

    def select_ordem(self, ordem_id: UUID) -> OrdemRegistrada | None:
        def work(connection: Connection) -> OrdemRegistrada | None:
            row = connection.execute(SELECT_ORDEM + " WHERE id = %s", (ordem_id,)).fetchone()
            return OrdemRegistrada.model_validate(row) if row else None

        return self._database.run(work)

    def select_ordem_da_chave(self, idempotency_key: str) -> OrdemRegistrada | None:
        def work(connection: Connection) -> OrdemRegistrada | None:
            row = connection.execute(SELECT_ORDEM + " WHERE idempotency_key = %s", (idempotency_key,)).fetchone()
            return OrdemRegistrada.model_validate(row) if row else None

        return self._database.run(work)

    def update_ordem_pendente(
        self, ordem_id: UUID, status: StatusOrdem, motivo: Motivo | None, pagamento_id: UUID | None, http_status: int
    ) -> bool:
        """Moves a PENDENTE order to its final state; False if another request already did."""

        def work(connection: Connection) -> bool:
            row = connection.execute(
                "UPDATE ordens SET status = %s, motivo = %s, pagamento_id = %s, http_status = %s, atualizada_em = now()"
                " WHERE id = %s AND status = 'PENDENTE' RETURNING id",
                (status, motivo, pagamento_id, http_status, ordem_id),
            ).fetchone()
            return row is not None

        return self._database.run(work)
