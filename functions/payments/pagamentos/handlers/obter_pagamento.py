"""GET /pagamentos/{id} — one payment."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.models import Uuid
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from pagamentos.models import Pagamento
from pagamentos.runtime import logger, new_app, pagamentos

app = new_app()


@app.get("/pagamentos/<id>", responses=responses({200: answer("The payment", Pagamento), 404: answer("No such payment")}))
def obter_pagamento(id: Uuid) -> Response[Any]:  # noqa: A002 - the route's name
    return json_response(200, pagamentos.obter(id))


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
