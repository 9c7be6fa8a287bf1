"""The HTTP contract of Cadastro de Livros."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field, RootModel

from bookstore_shared.models import CanonicalId, Dinheiro, Uuid

MAX_PAGE = 200
# The highest price a book may have: an order of the most copies one order takes (100, Ordem de
# Compra's `quantidade`) must still be money every service holds, NUMERIC(12, 2) — 9,999,999,999.99.
# Above it, an order's total was not valid money and the order failed with a 500.
MAX_PRECO = Decimal("99999999.99")

# A book id in a route: a positive PostgreSQL BIGINT, anything else is a 422.
LivroId = Annotated[CanonicalId, Path(ge=1, le=2**63 - 1)]


class NovoLivro(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    titulo: str = Field(min_length=1, max_length=200)
    autor: str | None = Field(default=None, max_length=200)
    preco: Annotated[Dinheiro, Field(le=MAX_PRECO)]
    estoque: int = Field(ge=0, le=1_000_000, strict=True)


class Livro(BaseModel):
    id: int
    titulo: str
    autor: str | None
    preco: Dinheiro
    estoque: int


class Catalogo(RootModel[list[Livro]]):
    """A page of the catalog: a JSON array of books."""


class NovaReserva(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ordem_id: Uuid
    quantidade: int = Field(ge=1, le=100, strict=True)


class StatusReserva(StrEnum):
    RESERVADA = "RESERVADA"
    LIBERADA = "LIBERADA"


class Reserva(BaseModel):
    ordem_id: UUID
    livro_id: int
    quantidade: int
    status: StatusReserva
