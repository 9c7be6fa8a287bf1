"""DELETE /livros/{id}/reservas/{ordem_id} — gives an order's reserved stock back (idempotent). A release
that comes before its reservation leaves a tombstone (LIBERADA, nothing held): the reservation is
then refused with 409 RESERVA_LIBERADA. 404 for an unknown book."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.models import Uuid
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import LivroId, Reserva
from livros.runtime import livros, logger, new_app

app = new_app()


@app.delete(
    "/livros/<id>/reservas/<ordem_id>",
    responses=responses(
        {
            200: answer("The reservation, released (or a tombstone, when the release came first)", Reserva),
            404: answer("No such book, or the order's reservation is of another book"),
        }
    ),
)
def liberar_reserva(id: LivroId, ordem_id: Uuid) -> Response[Any]:  # noqa: A002
    reserva = livros.liberar(id, ordem_id)
    logger.info("reserva liberada", extra={"livro_id": id, "ordem_id": str(ordem_id)})
    return json_response(200, reserva)


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
