"""POST /ordens — places a purchase order: validates the book, reserves stock, charges the card.

Answers: 201 CONCLUIDA, 409 ESTOQUE_INSUFICIENTE, 402 PAGAMENTO_RECUSADO, 502/503/504 when a
dependency fails, 404 for an unknown book. The same `Idempotency-Key` gets the first answer again."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.telemetry import instrument_lambda_handler
from ordens.models import NovaOrdem
from ordens.runtime import logger, new_app, ordens

app = new_app()


@app.post("/ordens")
def criar_ordem(
    pedido: NovaOrdem,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")] = None,
) -> Response[Any]:
    ordem, status_code = ordens.criar(pedido, idempotency_key)
    return json_response(status_code, ordem, headers={"Location": f"/ordens/{ordem.id}"})


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
