"""Types shared by more than one service's HTTP contract."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, field_validator
from pydantic_extra_types.payment import PaymentCardNumber


def _money_text(value: Decimal) -> str:
    return f"{value:.2f}"


# Money travels as a JSON string with two decimal places ("49.90"), in requests and responses,
# so no amount is ever rounded by a float. Requests may also send a JSON number.
Dinheiro = Annotated[
    Decimal,
    Field(gt=0, max_digits=12, decimal_places=2, examples=["49.90"]),
    PlainSerializer(_money_text, return_type=str, when_used="json"),
    # What answers promise (the OpenAPI description, which the fuzz tests hold them to).
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]{1,10}\.[0-9]{2}$", "examples": ["49.90"]}, mode="serialization"),
]


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")


def _canonical_uuid(value: object) -> object:
    if isinstance(value, str) and not _UUID_TEXT.fullmatch(value):
        raise ValueError("deve ser um UUID no formato 8-4-4-4-12")
    return value


def _canonical_id(value: object) -> object:
    if isinstance(value, str) and not _ID_TEXT.fullmatch(value):
        raise ValueError("deve ser um inteiro positivo, só dígitos, sem zeros à esquerda")
    return value


# Ids as callers write them: one spelling each, so `/livros/01` or a UUID without its hyphens is a
# 422 rather than another name for the same thing (pydantic alone accepts "1.0", "+1", " 1").
Uuid = Annotated[UUID, BeforeValidator(_canonical_uuid)]
CanonicalId = Annotated[int, BeforeValidator(_canonical_id)]


def _digits_only(value: object) -> object:
    return re.sub(r"[\s-]", "", value) if isinstance(value, str) else value


class Cartao(BaseModel):
    """A payment card as the client sends it. `numero` and `cvv` are excluded from reprs; only
    `final` (the last four digits) may be stored, logged or returned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    numero: Annotated[PaymentCardNumber, BeforeValidator(_digits_only)] = Field(repr=False)
    titular: str = Field(min_length=2, max_length=100, repr=False)
    validade: str = Field(pattern=r"^(0[1-9]|1[0-2])/\d{2}$", examples=["12/30"], repr=False)
    cvv: str = Field(pattern=r"^\d{3,4}$", repr=False)

    @field_validator("validade")
    @classmethod
    def _not_expired(cls, validade: str) -> str:
        month, year = (int(part) for part in validade.split("/"))
        today = datetime.now(UTC)
        if (2000 + year, month) < (today.year, today.month):
            raise ValueError("cartão vencido")
        return validade

    @property
    def final(self) -> str:
        return self.numero[-4:]
