"""In-memory stand-ins for what `ordens.service.Ordens` talks to (see `ordens.ports`), so the
saga's decisions can be tested in-process, without HTTP or PostgreSQL.

Each fake operation is scripted with `Script`: one outcome per call (a value, or a `Failure` that
the fake raises as `DependencyError`), the last outcome answering every later call. Every call a
fake receives is appended to one shared `CallLog`, so a test sees what was called, and in what order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar
from uuid import UUID, uuid4

from bookstore_shared.http_client import DependencyError, Failure
from bookstore_shared.models import Cartao
from ordens.clients import LivroRemoto, PagamentoRemoto, Reservou
from ordens.models import Motivo, OrdemRegistrada, StatusOrdem

T = TypeVar("T")


class Script(Generic[T]):
    """What one fake operation answers, call after call; the last outcome stays for good."""

    def __init__(self, first: T | Failure, *then: T | Failure) -> None:
        self._outcomes = [first, *then]

    def next(self, dependency: str) -> T:
        outcome = self._outcomes.pop(0) if len(self._outcomes) > 1 else self._outcomes[0]
        if isinstance(outcome, Failure):
            # A new exception per call, as a real client raises: the saga chains one to another.
            raise DependencyError(dependency, outcome, "scripted by the test")
        return outcome


@dataclass(frozen=True)
class Call:
    operation: str  # "livros.reservar", "pagamentos.pagar", ...
    args: tuple[object, ...]


@dataclass
class CallLog:
    calls: list[Call] = field(default_factory=list)

    def record(self, operation: str, *args: object) -> None:
        self.calls.append(Call(operation, args))

    def operations(self) -> list[str]:
        return [call.operation for call in self.calls]

    def args_of(self, operation: str) -> list[tuple[object, ...]]:
        return [call.args for call in self.calls if call.operation == operation]


class FakeLivros:
    """Cadastro de Livros (`ports.LivrosApi`): by default the book exists, and reserving and
    releasing work."""

    dependency = "cadastro-de-livros"

    def __init__(self, log: CallLog, livro: LivroRemoto) -> None:
        self._log = log
        self.obter_script: Script[LivroRemoto | None] = Script(livro)
        self.reservar_script: Script[Reservou] = Script(Reservou.SIM)
        self.liberar_script: Script[None] = Script(None)

    def obter(self, livro_id: int) -> LivroRemoto | None:
        self._log.record("livros.obter", livro_id)
        return self.obter_script.next(self.dependency)

    def reservar(self, livro_id: int, ordem_id: UUID, quantidade: int) -> Reservou:
        self._log.record("livros.reservar", livro_id, ordem_id, quantidade)
        return self.reservar_script.next(self.dependency)

    def liberar(self, livro_id: int, ordem_id: UUID) -> None:
        self._log.record("livros.liberar", livro_id, ordem_id)
        self.liberar_script.next(self.dependency)


APROVADO = "APROVADO"
RECUSADO = "RECUSADO"


class FakePagamentos:
    """Pagamento (`ports.PagamentosApi`): by default every payment is approved and cancelling
    answers the payment's id. `pagamento_id` is the id of the order's payment (one per order)."""

    dependency = "pagamento"

    def __init__(self, log: CallLog) -> None:
        self._log = log
        self.pagamento_id = uuid4()
        self.pagar_script: Script[str] = Script(APROVADO)  # the payment's status
        self.cancelar_script: Script[UUID | None] = Script(self.pagamento_id)

    def pagar(self, ordem_id: UUID, valor: Decimal, cartao: Cartao) -> PagamentoRemoto:
        self._log.record("pagamentos.pagar", ordem_id, valor)
        return PagamentoRemoto(id=self.pagamento_id, status=self.pagar_script.next(self.dependency))

    def cancelar(self, ordem_id: UUID) -> UUID | None:
        self._log.record("pagamentos.cancelar", ordem_id)
        return self.cancelar_script.next(self.dependency)


class FakeOrdensRepository:
    """The stored orders (`ports.OrdensRepository`) in a dict, with the same rules as the SQL:
    one order per Idempotency-Key, and only a PENDENTE order can be finished.

    `before_next_insert` / `before_next_update` run once, right before the next write: a concurrent
    request doing its own write first (an order stored under the same key, or finished)."""

    def __init__(self) -> None:
        self.ordens: dict[UUID, OrdemRegistrada] = {}
        self.before_next_insert: Callable[[], None] | None = None
        self.before_next_update: Callable[[], None] | None = None
        self.reconciliando: set[UUID] = set()  # taken by the reconciler

    def store(self, ordem: OrdemRegistrada) -> None:
        self.ordens[ordem.id] = ordem

    def select_ordem(self, ordem_id: UUID) -> OrdemRegistrada | None:
        return self.ordens.get(ordem_id)

    def select_ordem_da_chave(self, idempotency_key: str) -> OrdemRegistrada | None:
        return next((ordem for ordem in self.ordens.values() if ordem.idempotency_key == idempotency_key), None)

    def insert_ordem(self, ordem: OrdemRegistrada, posse_segundos: float) -> bool:
        self._run_once("before_next_insert")
        assert ordem.status is StatusOrdem.PENDENTE
        if ordem.idempotency_key is not None and self.select_ordem_da_chave(ordem.idempotency_key) is not None:
            return False
        self.store(ordem)
        return True

    def update_ordem_pendente(
        self, ordem_id: UUID, status: StatusOrdem, motivo: Motivo | None, pagamento_id: UUID | None, http_status: int
    ) -> bool:
        self._run_once("before_next_update")
        stored = self.ordens[ordem_id]
        if stored.status is not StatusOrdem.PENDENTE:
            return False
        update = {"status": status, "motivo": motivo, "pagamento_id": pagamento_id, "http_status": http_status}
        self.ordens[ordem_id] = stored.model_copy(update=update)
        return True

    def retomar_ordem(self, ordem_id: UUID, posse_segundos: float) -> bool:
        """In memory, no request outlives its call: an order is never owned by another."""
        stored = self.ordens[ordem_id]
        return stored.status is StatusOrdem.PENDENTE and ordem_id not in self.reconciliando

    def reconciliar_proxima(self, parada_ha_segundos: int) -> OrdemRegistrada | None:
        """The oldest PENDENTE order not yet taken: in memory, every stored order counts as old enough."""
        for ordem in self.ordens.values():
            if ordem.status is StatusOrdem.PENDENTE and ordem.id not in self.reconciliando:
                self.reconciliando.add(ordem.id)
                return ordem
        return None

    def _run_once(self, hook: str) -> None:
        concurrent_write: Callable[[], None] | None = getattr(self, hook)
        setattr(self, hook, None)
        if concurrent_write is not None:
            concurrent_write()
