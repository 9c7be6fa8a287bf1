"""What the order flow needs from its collaborators, as `Protocol`s: the real objects
(`repository.PostgresOrdensRepository`, `clients.LivrosClient`, `clients.PagamentosClient`) fit
them structurally, and so do the in-memory fakes the saga's unit tests build `Ordens` with."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol
from uuid import UUID

from bookstore_shared.models import Cartao
from ordens.clients import LivroRemoto, PagamentoRemoto, Reservou
from ordens.models import Motivo, OrdemRegistrada, StatusOrdem


class OrdensRepository(Protocol):
    """The stored orders. Each call is a transaction of its own."""

    def select_ordem(self, ordem_id: UUID) -> OrdemRegistrada | None: ...

    def select_ordem_da_chave(self, idempotency_key: str) -> OrdemRegistrada | None: ...

    def insert_ordem(self, ordem: OrdemRegistrada, posse_segundos: float) -> bool:
        """Stores a new PENDENTE order, this request its owner for `posse_segundos`; False when its
        Idempotency-Key is already taken."""
        ...

    def update_ordem_pendente(
        self, ordem_id: UUID, status: StatusOrdem, motivo: Motivo | None, pagamento_id: UUID | None, http_status: int
    ) -> bool:
        """Moves a PENDENTE order to its final state (or keeps it PENDENTE), and lets go of it;
        False if another request already finished it."""
        ...

    def retomar_ordem(self, ordem_id: UUID, posse_segundos: float) -> bool:
        """Takes a PENDENTE order for a retry, owned for `posse_segundos`; False while another
        request owns it, once the reconciler has it, or once it is finished."""
        ...

    def reconciliar_proxima(self, parada_ha_segundos: int) -> OrdemRegistrada | None:
        """Takes for the reconciler the oldest PENDENTE order untouched for that long, if any."""
        ...


class LivrosApi(Protocol):
    """Cadastro de Livros: each call answers, refuses, or raises `DependencyError`."""

    def obter(self, livro_id: int) -> LivroRemoto | None: ...

    def reservar(self, livro_id: int, ordem_id: UUID, quantidade: int) -> Reservou: ...

    def liberar(self, livro_id: int, ordem_id: UUID) -> None: ...


class PagamentosApi(Protocol):
    """Pagamento: each call answers or raises `DependencyError`."""

    def pagar(self, ordem_id: UUID, valor: Decimal, cartao: Cartao) -> PagamentoRemoto: ...

    def cancelar(self, ordem_id: UUID) -> UUID | None: ...
