"""A few sample books, so a fresh local Bookstore has something to sell."""

from __future__ import annotations

import psycopg

SAMPLE_BOOKS = [
    ("Dom Casmurro", "Machado de Assis", "39.90", 25),
    ("Grande Sertão: Veredas", "João Guimarães Rosa", "69.90", 10),
    ("A Hora da Estrela", "Clarice Lispector", "34.50", 15),
    ("Vidas Secas", "Graciliano Ramos", "29.90", 3),
    ("Observability Engineering", "Charity Majors, Liz Fong-Jones, George Miranda", "249.00", 5),
]


def seed_books(conninfo: str) -> int:
    """Adds the sample books to an empty catalog; returns how many were added."""
    with psycopg.connect(conninfo) as connection:
        row = connection.execute("SELECT count(*) FROM livros").fetchone()
        if row and row[0]:
            return 0
        with connection.cursor() as cursor:
            cursor.executemany("INSERT INTO livros (titulo, autor, preco, estoque) VALUES (%s, %s, %s, %s)", SAMPLE_BOOKS)
        return len(SAMPLE_BOOKS)
