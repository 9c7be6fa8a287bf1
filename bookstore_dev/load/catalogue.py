"""The books a load run needs, created at its start through the admin route `POST /livros`,
signed with the local cloud's admin identity (the same signer as `make livro`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from bookstore_dev.clients import admin_auth

# The most a book may hold (the catalogue's limit): orders of one copy each never run it dry in a
# run of minutes, so an approved order never meets 409 because earlier ones sold it out.
IN_STOCK = 1_000_000
# A livro_id the orders service accepts (a bigint) that no catalogue reaches: the unknown book.
UNKNOWN_BOOK = 2**63 - 1


@dataclass(frozen=True)
class Catalogue:
    in_stock: int  # the book ordered with approved and declined cards
    sold_out: int  # estoque 0: every order of it is refused for stock
    listed: tuple[int, ...]  # ids GET /livros returned: the books a buyer views
    size: int  # how many books the catalogue held at start: the range of offsets to browse


def prepare(url: str, credentials: Path, profile: str | None) -> Catalogue:
    """Adds the run's two books as the admin and reads the catalogue; RuntimeError, in one line,
    when there is no admin identity or no Bookstore answering."""
    auth = admin_auth(credentials, profile)  # RuntimeError without the file or the profile
    try:
        with httpx.Client(base_url=url, timeout=60) as api:
            in_stock = _new_book(api, auth, "Carga: em estoque", IN_STOCK)
            sold_out = _new_book(api, auth, "Carga: esgotado", 0)
            listing = api.get("/livros", params={"limit": 200})
    except httpx.HTTPError as error:
        raise RuntimeError(f"no Bookstore answers on {url} ({type(error).__name__})") from None
    if listing.status_code != 200:
        raise RuntimeError(f"GET /livros answered {listing.status_code}")
    listed = tuple(int(book["id"]) for book in listing.json())
    return Catalogue(in_stock, sold_out, listed, size=max(len(listed), max(in_stock, sold_out)))


def _new_book(api: httpx.Client, auth: httpx.Auth, titulo: str, estoque: int) -> int:
    response = api.post("/livros", json={"titulo": titulo, "autor": "Locust", "preco": "10.00", "estoque": estoque}, auth=auth)
    if response.status_code != 201:
        # The status only: an error body says why, but the admin's refusal (403) is all that matters here.
        raise RuntimeError(f"POST /livros as the admin answered {response.status_code}; is the credentials file this cloud's?")
    livro_id: int = response.json()["id"]
    return livro_id
