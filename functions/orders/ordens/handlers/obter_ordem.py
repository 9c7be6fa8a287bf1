"""GET /ordens/{id} — one order, whatever its status."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.models import Uuid
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from ordens.models import Ordem
from ordens.runtime import logger, new_app, ordens

app = new_app()


@app.get("/ordens/<id>", responses=responses({200: answer("The order, whatever its status", Ordem), 404: answer("No such order")}))
def obter_ordem(id: Uuid) -> Response[Any]:  # noqa: A002 - the route's name
    return json_response(200, ordens.obter(id))


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
