"""Data access of Ordem de Compra: SQL only, each call one transaction of `Database.run`."""

from __future__ import annotations

import hashlib
from uuid import UUID

from bookstore_shared.database import Connection, Database
from ordens.models import Motivo, OrdemRegistrada, StatusOrdem

COLUMNS = "id, idempotency_key, livro_id, quantidade, valor_total, status, motivo, pagamento_id, http_status, traceparent"
SELECT_ORDEM = f"SELECT {COLUMNS} FROM ordens"  # noqa: S608 - constants only
RECONCILIAR_PROXIMA = (
    "UPDATE ordens SET reconciliada_em = now(), atualizada_em = now()"  # noqa: S608 - constants only
    " WHERE id = (SELECT id FROM ordens WHERE status = 'PENDENTE' AND atualizada_em < now() - make_interval(secs => %s)"
    "             AND (em_processamento_ate IS NULL OR em_processamento_ate < now())"  # never while a request owns it
    "             ORDER BY atualizada_em LIMIT 1 FOR UPDATE SKIP LOCKED)"
    f" RETURNING {COLUMNS}"
)


class PostgresOrdensRepository:
    """The `ports.OrdensRepository` of the running service, on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def insert_ordem(self, ordem: OrdemRegistrada, posse_segundos: float) -> bool:
        """Stores a new PENDENTE order, owned by this request for `posse_segundos`; False when its
        Idempotency-Key is already taken."""

        def work(connection: Connection) -> bool:
            row = connection.execute(
                "INSERT INTO ordens (id, idempotency_key, livro_id, quantidade, valor_total, status, traceparent, em_processamento_ate)"
                " VALUES (%s, %s, %s, %s, %s, 'PENDENTE', %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (
                    ordem.id,
                    _stored_key(ordem.idempotency_key),
                    ordem.livro_id,
                    ordem.quantidade,
                    ordem.valor_total,
                    ordem.traceparent,
                    posse_segundos,
                ),
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
            row = connection.execute(SELECT_ORDEM + " WHERE idempotency_key = %s", (_stored_key(idempotency_key),)).fetchone()
            return OrdemRegistrada.model_validate(row) if row else None

        return self._database.run(work)

    def update_ordem_pendente(
        self, ordem_id: UUID, status: StatusOrdem, motivo: Motivo | None, pagamento_id: UUID | None, http_status: int
    ) -> bool:
        """Moves a PENDENTE order to its final state (or keeps it PENDENTE with its cause), and lets
        go of it: a retry may take it at once. False if another request already finished it."""

        def work(connection: Connection) -> bool:
            row = connection.execute(
                "UPDATE ordens SET status = %s, motivo = %s, pagamento_id = %s, http_status = %s, atualizada_em = now(),"
                " em_processamento_ate = NULL WHERE id = %s AND status = 'PENDENTE' RETURNING id",
                (status, motivo, pagamento_id, http_status, ordem_id),
            ).fetchone()
            return row is not None

        return self._database.run(work)

    def retomar_ordem(self, ordem_id: UUID, posse_segundos: float) -> bool:
        """Takes a PENDENTE order for a retry that resumes it, owned for `posse_segundos`; False
        while another request owns it, once the reconciler has it, or once it is finished.
        Touching `atualizada_em` keeps the reconciler away while the retry runs."""

        def work(connection: Connection) -> bool:
            row = connection.execute(
                "UPDATE ordens SET atualizada_em = now(), em_processamento_ate = now() + make_interval(secs => %s)"
                " WHERE id = %s AND status = 'PENDENTE' AND reconciliada_em IS NULL"
                " AND (em_processamento_ate IS NULL OR em_processamento_ate < now()) RETURNING id",
                (posse_segundos, ordem_id),
            ).fetchone()
            return row is not None

        return self._database.run(work)

    def reconciliar_proxima(self, parada_ha_segundos: int) -> OrdemRegistrada | None:
        """Takes, for the reconciler, the oldest order no request has touched for
        `parada_ha_segundos` (longer than any request lives); None when there is none. Taking it
        again is allowed once as long has passed since (a reconciler that died mid-order), and
        concurrent reconcilers skip each other's rows."""

        def work(connection: Connection) -> OrdemRegistrada | None:
            row = connection.execute(
                RECONCILIAR_PROXIMA,
                (parada_ha_segundos,),
            ).fetchone()
            return OrdemRegistrada.model_validate(row) if row else None

        return self._database.run(work)


def _stored_key(idempotency_key: str | None) -> str | None:
    """How an Idempotency-Key is stored: its SHA-256. The key is the client's own text, and whatever
    it put there (a card number, a name) must not land in the database; equal keys still match."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key is not None else None
