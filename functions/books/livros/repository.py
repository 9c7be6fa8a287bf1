"""Data access of Cadastro de Livros: SQL only, inside the transaction the caller opened."""

from __future__ import annotations

from uuid import UUID

from psycopg.rows import DictRow

from bookstore_shared.database import Connection
from livros.models import Livro, NovoLivro, Reserva


def insert_livro(connection: Connection, novo: NovoLivro) -> Livro:
    row = connection.execute(
        "INSERT INTO livros (titulo, autor, preco, estoque) VALUES (%s, %s, %s, %s) RETURNING id, titulo, autor, preco, estoque",
        (novo.titulo, novo.autor, novo.preco, novo.estoque),
    ).fetchone()
    assert row is not None
    return Livro.model_validate(row)


def select_livros(connection: Connection, limit: int, offset: int) -> list[Livro]:
    rows = connection.execute(
        "SELECT id, titulo, autor, preco, estoque FROM livros ORDER BY id LIMIT %s OFFSET %s", (limit, offset)
    ).fetchall()
    return [Livro.model_validate(row) for row in rows]


def sleep(connection: Connection, seconds: float) -> None:
    """The database waits (a fault a class turns on: see `slowQuery`)."""
    connection.execute("SELECT pg_sleep(%s)", (seconds,))


def select_livro(connection: Connection, livro_id: int) -> Livro | None:
    row = connection.execute("SELECT id, titulo, autor, preco, estoque FROM livros WHERE id = %s", (livro_id,)).fetchone()
    return Livro.model_validate(row) if row else None


def take_stock(connection: Connection, livro_id: int, quantidade: int) -> bool:
    """Lowers the stock if there is enough. One statement: the row lock makes concurrent orders
    queue up and each sees the stock the previous one left, so it can never be oversold."""
    row = connection.execute(
        "UPDATE livros SET estoque = estoque - %s WHERE id = %s AND estoque >= %s RETURNING estoque",
        (quantidade, livro_id, quantidade),
    ).fetchone()
    return row is not None


def give_back_stock(connection: Connection, livro_id: int, quantidade: int) -> None:
    connection.execute("UPDATE livros SET estoque = estoque + %s WHERE id = %s", (quantidade, livro_id))


def insert_reserva(connection: Connection, livro_id: int, ordem_id: UUID, quantidade: int) -> Reserva | None:
    """The new reservation, or None when this order already has one (the caller reads it)."""
    row = connection.execute(
        "INSERT INTO reservas (ordem_id, livro_id, quantidade, status) VALUES (%s, %s, %s, 'RESERVADA')"
        " ON CONFLICT (ordem_id) DO NOTHING RETURNING ordem_id, livro_id, quantidade, status",
        (ordem_id, livro_id, quantidade),
    ).fetchone()
    return _reserva(row)


def insert_reserva_liberada(connection: Connection, livro_id: int, ordem_id: UUID) -> Reserva | None:
    """A tombstone for an order released before it reserved; None when the order has a reservation
    (one committed meanwhile: the insert waited for it)."""
    row = connection.execute(
        "INSERT INTO reservas (ordem_id, livro_id, quantidade, status) VALUES (%s, %s, 0, 'LIBERADA')"
        " ON CONFLICT (ordem_id) DO NOTHING RETURNING ordem_id, livro_id, quantidade, status",
        (ordem_id, livro_id),
    ).fetchone()
    return _reserva(row)


def select_reserva(connection: Connection, ordem_id: UUID, *, for_update: bool = False) -> Reserva | None:
    query = "SELECT ordem_id, livro_id, quantidade, status FROM reservas WHERE ordem_id = %s"
    return _reserva(connection.execute(query + (" FOR UPDATE" if for_update else ""), (ordem_id,)).fetchone())


def mark_reserva_liberada(connection: Connection, ordem_id: UUID) -> Reserva:
    row = connection.execute(
        "UPDATE reservas SET status = 'LIBERADA', atualizada_em = now() WHERE ordem_id = %s"
        " RETURNING ordem_id, livro_id, quantidade, status",
        (ordem_id,),
    ).fetchone()
    reserva = _reserva(row)
    assert reserva is not None
    return reserva


def _reserva(row: DictRow | None) -> Reserva | None:
    return Reserva.model_validate(row) if row else None
