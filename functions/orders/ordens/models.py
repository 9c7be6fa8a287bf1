"""The HTTP contract of Ordem de Compra."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from bookstore_shared.models import Cartao, Dinheiro


class NovaOrdem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    livro_id: int = Field(ge=1, le=2**63 - 1, strict=True)
    quantidade: int = Field(ge=1, le=100, strict=True)
    cartao: Cartao


class StatusOrdem(StrEnum):
    PENDENTE = "PENDENTE"  # in progress, or interrupted: a retry or, later, the reconciler ends it
    CONCLUIDA = "CONCLUIDA"
    NAO_CONCLUIDA = "NAO_CONCLUIDA"


class Motivo(StrEnum):
    ESTOQUE_INSUFICIENTE = "ESTOQUE_INSUFICIENTE"
    PAGAMENTO_RECUSADO = "PAGAMENTO_RECUSADO"
    LIVRO_NAO_ENCONTRADO = "LIVRO_NAO_ENCONTRADO"
    CADASTRO_DE_LIVROS_INDISPONIVEL = "CADASTRO_DE_LIVROS_INDISPONIVEL"
    PAGAMENTO_INDISPONIVEL = "PAGAMENTO_INDISPONIVEL"
    # The order's reservation was released before this attempt, for a cause no attempt recorded.
    RESERVA_LIBERADA = "RESERVA_LIBERADA"
    # Interrupted (its environment killed, a dependency down while compensating) and not retried:
    # the reconciler gave its stock and payment back.
    ORDEM_INTERROMPIDA = "ORDEM_INTERROMPIDA"


class Ordem(BaseModel):
    id: UUID
    livro_id: int
    quantidade: int
    valor_total: Dinheiro
    status: StatusOrdem
    # Present only when they apply: a concluded order has no motivo, a refused one may have no payment.
    motivo: Motivo | None = Field(default=None, exclude_if=lambda motivo: motivo is None)
    pagamento_id: UUID | None = Field(default=None, exclude_if=lambda pagamento_id: pagamento_id is None)


class OrdemRegistrada(Ordem):
    """An order as stored: with the key it was created under and the answer it got."""

    idempotency_key: str | None = Field(default=None, exclude=True)
    http_status: int | None = Field(default=None, exclude=True)
    traceparent: str | None = Field(default=None, exclude=True)  # of the request that created it
