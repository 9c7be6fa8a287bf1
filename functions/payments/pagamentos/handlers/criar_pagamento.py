"""POST /pagamentos — charges an order's card, once per order."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from pagamentos.models import NovoPagamento, Pagamento
from pagamentos.runtime import logger, new_app, pagamentos

app = new_app()


@app.post(
    "/pagamentos",
    responses=responses(
        {
            201: answer("The payment: APROVADO, or RECUSADO with its motivo", Pagamento),
            200: answer("The order's payment, asked for again", Pagamento),
            409: answer("The order already has a payment of another amount"),
        }
    ),
)
def criar_pagamento(pedido: NovoPagamento) -> Response[Any]:
    pagamento, novo = pagamentos.processar(pedido)
    # Only ids, the outcome and the last four digits: never the card number or the CVV.
    logger.info(
        "pagamento processado" if novo else "pagamento repetido",
        extra={"pagamento_id": str(pagamento.id), "ordem_id": str(pagamento.ordem_id), "status": pagamento.status.value},
    )
    return json_response(201 if novo else 200, pagamento)


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
