"""The HTTP contract of Pagamento."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bookstore_shared.models import Cartao, Dinheiro, Uuid


class NovoPagamento(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ordem_id: Uuid
    valor: Dinheiro
    cartao: Cartao


class StatusPagamento(StrEnum):
    APROVADO = "APROVADO"
    RECUSADO = "RECUSADO"
    ESTORNADO = "ESTORNADO"  # approved, then refunded because its order was cancelled


class MotivoRecusa(StrEnum):
    CARTAO_RECUSADO = "CARTAO_RECUSADO"
    SALDO_INSUFICIENTE = "SALDO_INSUFICIENTE"
    ORDEM_CANCELADA = "ORDEM_CANCELADA"


class Pagamento(BaseModel):
    id: UUID
    ordem_id: UUID
    valor: Dinheiro
    status: StatusPagamento
    motivo: MotivoRecusa | None = Field(default=None, exclude_if=lambda motivo: motivo is None)
    cartao_final: str


class NovoCancelamento(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ordem_id: Uuid


class Cancelamento(BaseModel):
    ordem_id: UUID
    pagamento: Pagamento | None  # the refunded (or declined) payment, if the order had one
