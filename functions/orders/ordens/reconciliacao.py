"""The reconciler: ends the orders no request finished (see `Ordens.reconciliar`).

Each run takes the oldest order left PENDENTE for longer than the threshold, one at a time, until
none is left or the run's time is nearly up, and ends each in a span of its own that links to
the trace of the request that created the order. When a dependency fails, the run stops: the
order stays PENDENTE for a later run (the threshold counts again from this attempt), and the
others are not taken only to fail the same way (a retry with their key may still finish them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bookstore_shared import telemetry
from ordens.ports import OrdensRepository
from ordens.service import Ordens


class ReconciliacaoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDENS_", frozen=True, extra="ignore")

    # Longer than any request lives (Ordem de Compra's 28 s timeout), so the reconciler never
    # ends an order a request is still working on.
    reconciliar_apos_segundos: int = Field(ge=60, description="How long an order stays PENDENTE before the reconciler ends it")
    http_timeout_seconds: float = Field(gt=0, le=30)


class Reconciliador:
    def __init__(self, repository: OrdensRepository, ordens: Ordens, settings: ReconciliacaoSettings, logger: Logger) -> None:
        self._repository = repository
        self._ordens = ordens
        self._parada_ha_segundos = settings.reconciliar_apos_segundos
        # Room for one more order: its two calls (cancel, release) at their timeout, and a margin.
        self._reserva_ms = int(2_000 * settings.http_timeout_seconds) + 1_000
        self._logger = logger

    def executar(self, tempo_restante_ms: Callable[[], int]) -> dict[str, Any]:
        finalizadas: list[str] = []
        adiadas: list[str] = []
        while tempo_restante_ms() > self._reserva_ms:
            ordem = self._repository.reconciliar_proxima(self._parada_ha_segundos)
            if ordem is None:
                break
            attributes = {"bookstore.order.id": str(ordem.id)}
            with telemetry.linked_span("reconciliar ordem", ordem.traceparent, attributes):
                final = self._ordens.reconciliar(ordem)
            if final is None:
                adiadas.append(str(ordem.id))
                break
            finalizadas.append(str(ordem.id))
        resultado = {"finalizadas": finalizadas, "adiadas": adiadas}
        telemetry.current_span().set_attributes(
            {"bookstore.reconciliation.finished": len(finalizadas), "bookstore.reconciliation.deferred": len(adiadas)}
        )
        self._logger.info("reconciliação", extra={"finalizadas": len(finalizadas), "adiadas": len(adiadas)})
        return resultado
