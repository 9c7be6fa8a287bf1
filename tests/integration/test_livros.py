"""Cadastro de Livros over HTTP, on a real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx

from tests.support.bookstore import new_book, order, stock_of


def test_a_created_book_is_returned_and_can_be_read_back(api: httpx.Client) -> None:
    # Given a new book
    response = api.post("/livros", json={"titulo": "Memórias Póstumas", "autor": "Machado", "preco": 42.5, "estoque": 3})
    # Then it comes back with an id and money as a two-place string
    assert response.status_code == 201
    book = response.json()
    assert book == {"id": book["id"], "titulo": "Memórias Póstumas", "autor": "Machado", "preco": "42.50", "estoque": 3}
    assert response.headers["Location"] == f"/livros/{book['id']}"
    # And reading it back gives the same book
    assert api.get(f"/livros/{book['id']}").json() == book


def test_author_is_optional(api: httpx.Client) -> None:
    response = api.post("/livros", json={"titulo": "Anônimo", "preco": "10.00", "estoque": 0})
    assert response.status_code == 201
    assert response.json()["autor"] is None


def test_unknown_book_is_404(api: httpx.Client) -> None:
    response = api.get("/livros/999999")
    assert response.status_code == 404
    assert response.json() == {"message": "Livro não encontrado"}


def test_listing_is_ordered_by_id_and_paged(api: httpx.Client) -> None:
    # Given five books
    ids = [new_book(api, titulo=f"Livro {n}")["id"] for n in range(5)]
    # When listing with the defaults, and page by page
    everything = api.get("/livros").json()
    page = api.get("/livros", params={"limit": 2, "offset": 2}).json()
    # Then the order is by id and the page is the right slice
    assert [book["id"] for book in everything] == ids
    assert [book["id"] for book in page] == ids[2:4]
    assert api.get("/livros", params={"offset": 10}).json() == []


def test_a_bad_book_changes_nothing(api: httpx.Client) -> None:
    response = api.post("/livros", json={"titulo": "", "preco": "-1", "estoque": -3})
    assert response.status_code == 422
    assert api.get("/livros").json() == []


def test_reservation_takes_stock_once_per_order_and_release_gives_it_back(api: httpx.Client) -> None:
    # Given a book with 5 in stock and an order id
    book = new_book(api, estoque=5)
    ordem_id = str(uuid.uuid4())
    reservas = f"/livros/{book['id']}/reservas"
    # When the order reserves 3, twice (a retry)
    first = api.post(reservas, json={"ordem_id": ordem_id, "quantidade": 3})
    again = api.post(reservas, json={"ordem_id": ordem_id, "quantidade": 3})
    # Then the stock went down once
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() == {"ordem_id": ordem_id, "livro_id": book["id"], "quantidade": 3, "status": "RESERVADA"}
    assert stock_of(api, book["id"]) == 2
    # When it is released, twice
    released = api.delete(f"{reservas}/{ordem_id}")
    released_again = api.delete(f"{reservas}/{ordem_id}")
    # Then the stock came back once
    assert released.status_code == released_again.status_code == 200
    assert released.json()["status"] == "LIBERADA"
    assert stock_of(api, book["id"]) == 5


def test_reserving_more_than_the_stock_is_409_and_holds_nothing(api: httpx.Client) -> None:
    book = new_book(api, estoque=2)
    response = api.post(f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 3})
    assert response.status_code == 409
    assert response.json() == {"message": "Estoque insuficiente", "motivo": "ESTOQUE_INSUFICIENTE", "estoque": 2}
    assert stock_of(api, book["id"]) == 2


def test_reusing_an_order_id_for_a_different_reservation_is_409(api: httpx.Client) -> None:
    book = new_book(api, estoque=5)
    ordem_id = str(uuid.uuid4())
    api.post(f"/livros/{book['id']}/reservas", json={"ordem_id": ordem_id, "quantidade": 1})
    response = api.post(f"/livros/{book['id']}/reservas", json={"ordem_id": ordem_id, "quantidade": 2})
    assert response.status_code == 409
    assert stock_of(api, book["id"]) == 4


def test_reserving_or_releasing_for_an_unknown_book_is_404(api: httpx.Client) -> None:
    assert api.post("/livros/424242/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 1}).status_code == 404
    assert api.delete(f"/livros/424242/reservas/{uuid.uuid4()}").status_code == 404


def test_a_release_before_its_reservation_leaves_a_tombstone_that_refuses_the_reservation(api: httpx.Client) -> None:
    # Given a book, and an order whose release arrives before its reservation (a slow network)
    book = new_book(api, estoque=5)
    ordem_id = str(uuid.uuid4())
    reservas = f"/livros/{book['id']}/reservas"
    # When the release comes first
    released = api.delete(f"{reservas}/{ordem_id}")
    # Then it is taken (nothing was held) and remembered
    assert released.status_code == 200
    assert released.json() == {"ordem_id": ordem_id, "livro_id": book["id"], "quantidade": 0, "status": "LIBERADA"}
    # When the reservation arrives after it
    late = api.post(reservas, json={"ordem_id": ordem_id, "quantidade": 2})
    # Then it is refused, and the stock is untouched
    assert late.status_code == 409
    assert late.json()["motivo"] == "RESERVA_LIBERADA"
    assert stock_of(api, book["id"]) == 5


def test_reserving_again_for_a_released_reservation_is_refused(api: httpx.Client) -> None:
    # Given a reservation made and then released
    book = new_book(api, estoque=5)
    ordem_id = str(uuid.uuid4())
    reservas = f"/livros/{book['id']}/reservas"
    assert api.post(reservas, json={"ordem_id": ordem_id, "quantidade": 2}).status_code == 201
    assert api.delete(f"{reservas}/{ordem_id}").status_code == 200
    # When the same order asks for it again (a retry that arrives late)
    again = api.post(reservas, json={"ordem_id": ordem_id, "quantidade": 2})
    # Then it is refused as released, and the stock stays given back
    assert (again.status_code, again.json()["motivo"]) == (409, "RESERVA_LIBERADA")
    assert stock_of(api, book["id"]) == 5


def test_the_most_expensive_book_can_be_ordered_a_hundred_at_a_time_and_a_dearer_one_is_refused(api: httpx.Client) -> None:
    # Given a book at the highest price the catalog takes (found by a property test: a dearer book
    # was taken, and an order of 100 copies of it had a total no money column holds — a 500)
    book = new_book(api, estoque=100, preco="99999999.99")
    # When 100 copies are ordered
    response = order(api, book["id"], quantidade=100)
    # Then the order concludes for exactly 100 times the price
    assert response.status_code == 201, response.text
    assert response.json()["valor_total"] == "9999999999.00"
    # And a dearer book is refused where it is entered, naming the price
    dearer = api.post("/livros", json={"titulo": "Caro demais", "preco": "100000000.00", "estoque": 1})
    assert dearer.status_code == 422
    assert [issue["loc"] for issue in dearer.json()["detail"]] == [["body", "preco"]]
