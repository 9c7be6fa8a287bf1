"""What a client of the Bookstore does in the tests, in a few words."""

from __future__ import annotations

from typing import Any

import httpx

CARD_APPROVED = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "123"}
CARD_DECLINED = {**CARD_APPROVED, "numero": "4000000000000002"}
CARD_NO_FUNDS = {**CARD_APPROVED, "numero": "4000000000009995"}


def new_book(api: httpx.Client, estoque: int = 10, preco: str = "39.90", titulo: str = "Dom Casmurro") -> dict[str, Any]:
    response = api.post("/livros", json={"titulo": titulo, "autor": "Machado de Assis", "preco": preco, "estoque": estoque})
    assert response.status_code == 201, response.text
    book: dict[str, Any] = response.json()
    return book


def stock_of(api: httpx.Client, livro_id: int) -> int:
    response = api.get(f"/livros/{livro_id}")
    assert response.status_code == 200, response.text
    estoque: int = response.json()["estoque"]
    return estoque


def order(
    api: httpx.Client, livro_id: int, quantidade: int = 1, card: dict[str, str] = CARD_APPROVED, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/ordens", json={"livro_id": livro_id, "quantidade": quantidade, "cartao": card}, headers=headers)
