"""On a schedule (EventBridge): ends the orders left PENDENTE for longer than
ORDENS_RECONCILIAR_APOS_SEGUNDOS, giving their stock and payment back (see `ordens.reconciliacao`).
Answers which orders it finished and which it left for the next run."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bookstore_shared import telemetry
from bookstore_shared.settings import load_settings
from bookstore_shared.telemetry import instrument_lambda_handler
from ordens.reconciliacao import ReconciliacaoSettings, Reconciliador
from ordens.runtime import logger, ordens, repository

reconciliador = Reconciliador(repository, ordens, load_settings(ReconciliacaoSettings), logger)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    with telemetry.invocation(event):
        return reconciliador.executar(context.get_remaining_time_in_millis)


instrument_lambda_handler(__name__)
