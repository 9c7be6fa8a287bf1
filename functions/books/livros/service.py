"""Domain logic of Cadastro de Livros: catalog reads and writes, and the stock reservations that
let Ordem de Compra hold stock while it charges the card, then keep or release it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID

from psycopg.errors import ForeignKeyViolation

from bookstore_shared import flags, telemetry
from bookstore_shared.database import Connection, Database
from livros import repository
from livros.errors import EstoqueInsuficiente, LivroNaoEncontrado, ReservaConflitante, ReservaLiberada, ReservaNaoEncontrada
from livros.models import Livro, NovaReserva, NovoLivro, Reserva, StatusReserva

T = TypeVar("T")

RESERVATIONS = telemetry.meter().create_counter(
    "bookstore.stock.reservations", unit="{reservation}", description="Stock reservations by result"
)


def _count(result: str, livro_id: int) -> None:
    RESERVATIONS.add(1, {"bookstore.reservation.result": result})
    telemetry.current_span().set_attributes({"bookstore.book.id": livro_id, "bookstore.reservation.result": result})


def _slowly(connection: Connection, query: Callable[[], T]) -> T:
    """The catalogue's reads, after the database's own wait when `slowQuery` says (seconds): a
    real `pg_sleep` in the same transaction, so the database span shows where the time went."""
    if wait := flags.seconds("slowQuery"):
        repository.sleep(connection, wait)
    return query()


class Livros:
    def __init__(self, database: Database) -> None:
        self._database = database

    def cadastrar(self, novo: NovoLivro) -> Livro:
        return self._database.run(lambda connection: repository.insert_livro(connection, novo))

    def listar(self, limit: int, offset: int) -> list[Livro]:
        flags.delay("catalogueSlow")
        return self._database.run(lambda connection: _slowly(connection, lambda: repository.select_livros(connection, limit, offset)))

    def obter(self, livro_id: int) -> Livro:
        flags.delay("catalogueSlow")
        flags.leak("memoryLeak")
        livro = self._database.run(lambda connection: _slowly(connection, lambda: repository.select_livro(connection, livro_id)))
        if livro is None:
            raise LivroNaoEncontrado()
        return livro

    def reservar(self, livro_id: int, pedido: NovaReserva) -> tuple[Reserva, bool]:
        """Reserves stock for one order. Returns the reservation and whether it is new: asking
        again for the same order returns the first reservation and takes no more stock."""

        def work(connection: Connection) -> tuple[Reserva, bool]:
            reserva = repository.insert_reserva(connection, livro_id, pedido.ordem_id, pedido.quantidade)
            if reserva is None:
                return self._same_reservation(connection, livro_id, pedido), False
            if not repository.take_stock(connection, livro_id, pedido.quantidade):
                # Raising rolls the reservation back with the transaction.
                livro = repository.select_livro(connection, livro_id)
                if livro is None:
                    raise LivroNaoEncontrado()
                raise EstoqueInsuficiente(motivo="ESTOQUE_INSUFICIENTE", estoque=livro.estoque)
            return reserva, True

        try:
            reserva, nova = self._database.run(work)
        except ForeignKeyViolation as error:
            raise LivroNaoEncontrado() from error
        except EstoqueInsuficiente:
            _count("insufficient", livro_id)
            raise
        _count("reserved" if nova else "repeated", livro_id)
        return reserva, nova

    def liberar(self, livro_id: int, ordem_id: UUID) -> Reserva:
        """Gives the reserved stock back. Idempotent: a reservation already released stays as it is.
        A release that comes before its reservation leaves a tombstone (LIBERADA, nothing held),
        so the reservation, if it ever comes, is refused rather than holding stock for good."""

        def work(connection: Connection) -> Reserva:
            reserva = repository.select_reserva(connection, ordem_id, for_update=True)
            if reserva is None:
                tombstone = repository.insert_reserva_liberada(connection, livro_id, ordem_id)
                if tombstone is not None:
                    return tombstone
                # The reservation was being made: the insert waited for it to commit; release it.
                reserva = repository.select_reserva(connection, ordem_id, for_update=True)
                assert reserva is not None
            if reserva.livro_id != livro_id:
                raise ReservaNaoEncontrada()
            if reserva.status is StatusReserva.LIBERADA:
                return reserva
            repository.give_back_stock(connection, livro_id, reserva.quantidade)
            return repository.mark_reserva_liberada(connection, ordem_id)

        try:
            reserva = self._database.run(work)
        except ForeignKeyViolation as error:  # a tombstone for a book that does not exist
            raise LivroNaoEncontrado() from error
        _count("released" if reserva.quantidade else "released before reserved", livro_id)
        return reserva

    @staticmethod
    def _same_reservation(connection: Connection, livro_id: int, pedido: NovaReserva) -> Reserva:
        existing = repository.select_reserva(connection, pedido.ordem_id)
        assert existing is not None  # the conflicting row is committed: reservations are never deleted
        if existing.status is StatusReserva.LIBERADA:
            raise ReservaLiberada()
        if existing.livro_id != livro_id or existing.quantidade != pedido.quantidade:
            raise ReservaConflitante()
        return existing
