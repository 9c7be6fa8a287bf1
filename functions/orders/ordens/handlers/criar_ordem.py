"""POST /ordens — places a purchase order: validates the book, reserves stock, charges the card.

Answers: 201 CONCLUIDA, 409 ESTOQUE_INSUFICIENTE, 402 PAGAMENTO_RECUSADO, 502/503/504 when a
dependency fails, 404 for an unknown book. The same `Idempotency-Key` gets the first answer again
(202 PENDENTE while another request with the key, or the reconciler, works on the order)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from pydantic import RootModel

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import LOCATION, RETRY_AFTER, Erro, RecusaDaRequisicao, answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from ordens.models import NovaOrdem, Ordem
from ordens.runtime import logger, new_app, ordens

app = new_app()
# Past the deadline: the environment's clock and the database's, the commit of the last step.
POSSE_MARGEM_SEGUNDOS = 2.0


class OrdemOuErro(RootModel[Ordem | Erro]):
    """The order, once it got an id; a plain error when it failed before (nothing recorded)."""


@app.post(
    "/ordens",
    responses=responses(
        {
            201: answer("CONCLUIDA: stock reserved, card charged", Ordem, headers=LOCATION),
            202: answer(
                "PENDENTE: a retry with the key of an order another request or the reconciler is working on", Ordem, headers=LOCATION
            ),
            402: answer("NAO_CONCLUIDA, PAGAMENTO_RECUSADO: the card was declined", Ordem, headers=LOCATION),
            404: answer("No such book (nothing recorded, or NAO_CONCLUIDA LIVRO_NAO_ENCONTRADO)", OrdemOuErro),
            409: answer("NAO_CONCLUIDA: ESTOQUE_INSUFICIENTE, RESERVA_LIBERADA, or ORDEM_INTERROMPIDA", Ordem, headers=LOCATION),
            422: answer("Invalid input, or an Idempotency-Key already used for another order", RecusaDaRequisicao),
            502: answer("A dependency answered an error: NAO_CONCLUIDA, or PENDENTE until a retry", OrdemOuErro),
            503: answer("A dependency or the database is unavailable: NAO_CONCLUIDA, or PENDENTE", OrdemOuErro, headers=RETRY_AFTER),
            504: answer("A dependency did not answer in time: NAO_CONCLUIDA, or PENDENTE until a retry", OrdemOuErro),
        }
    ),
)
def criar_ordem(
    pedido: NovaOrdem,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")] = None,
) -> Response[Any]:
    # The order is this request's until its function's timeout: no retry takes it over before.
    posse_segundos = app.lambda_context.get_remaining_time_in_millis() / 1000 + POSSE_MARGEM_SEGUNDOS
    ordem, status_code = ordens.criar(pedido, idempotency_key, posse_segundos)
    return json_response(status_code, ordem, headers={"Location": f"/ordens/{ordem.id}"})


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
