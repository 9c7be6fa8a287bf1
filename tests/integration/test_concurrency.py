"""Stock is never oversold, however many orders race for it."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from bookstore_dev.template import routes
from localcloud.cloud import LocalCloud
from tests.integration.conftest import ENVIRONMENTS, provision
from tests.support.bookstore import new_book, order, stock_of

# What one order calls: its own function, then books (validation, reservation) and payments.
ORDER_PATH = {"POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"}


def test_twenty_racing_orders_for_five_books_conclude_exactly_five(
    api: httpx.Client, gateway_url: str, cloud: LocalCloud, db: dict[str, psycopg.Connection[tuple[object, ...]]]
) -> None:
    # Given a book with 5 in stock, and as many warm environments as orders in flight
    book = new_book(api, estoque=5)
    provision(cloud, [route.function for route in routes() if f"{route.method} {route.path}" in ORDER_PATH], ENVIRONMENTS)

    # When 20 clients order one copy each, at the same time
    def place(_: int) -> httpx.Response:
        with httpx.Client(base_url=gateway_url, timeout=60) as client:
            return order(client, book["id"])

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(place, range(20)))

    # Then exactly 5 conclude and 15 are refused for stock
    assert Counter(response.status_code for response in responses) == {201: 5, 409: 15}
    assert all(response.json()["motivo"] == "ESTOQUE_INSUFICIENTE" for response in responses if response.status_code == 409)
    # And the stock is 0, with 5 approved payments, each for a concluded order
    assert stock_of(api, book["id"]) == 0
    concluded = {response.json()["id"] for response in responses if response.status_code == 201}
    approved = db["pagamentos"].execute("SELECT ordem_id::text FROM pagamentos WHERE status = 'APROVADO'").fetchall()
    assert {row[0] for row in approved} == concluded
    by_status = {str(status): n for status, n in db["ordens"].execute("SELECT status, count(*) FROM ordens GROUP BY status")}
    assert by_status == {"CONCLUIDA": 5, "NAO_CONCLUIDA": 15}
    # And no refused order holds stock
    held = db["livros"].execute("SELECT ordem_id::text FROM reservas WHERE status = 'RESERVADA'").fetchall()
    assert {row[0] for row in held} == concluded
