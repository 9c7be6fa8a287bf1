"""POST /pagamentos/cancelamentos — cancels an order's payment (called by Ordem de Compra when it
could not learn whether the card was charged). Idempotent; 200 with the payment, if any."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from pagamentos.models import Cancelamento, NovoCancelamento
from pagamentos.runtime import logger, new_app, pagamentos

app = new_app()


@app.post(
    "/pagamentos/cancelamentos",
    responses=responses({200: answer("The order is cancelled: its payment refunded or refused, if any", Cancelamento)}),
)
def cancelar_pagamento(pedido: NovoCancelamento) -> Response[Any]:
    cancelamento = pagamentos.cancelar(pedido.ordem_id)
    refunded = cancelamento.pagamento.status.value if cancelamento.pagamento else None
    logger.info("pagamento cancelado", extra={"ordem_id": str(pedido.ordem_id), "status": refunded})
    return json_response(200, cancelamento)


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
