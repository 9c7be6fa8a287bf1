"""POST /livros/{id}/reservas — holds stock for an order (called by Ordem de Compra).

201 with a new reservation, 200 with the existing one when the same order asks again,
409 when there is not enough stock, 404 for an unknown book."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import LivroId, NovaReserva, Reserva
from livros.runtime import livros, logger, new_app

app = new_app()


@app.post(
    "/livros/<id>/reservas",
    responses=responses(
        {
            201: answer("A new reservation: the stock is held", Reserva),
            200: answer("The order's reservation, asked for again", Reserva),
            404: answer("No such book"),
            409: answer("Not enough stock (ESTOQUE_INSUFICIENTE, with estoque), another reservation of the order, or RESERVA_LIBERADA"),
        }
    ),
)
def reservar_estoque(id: LivroId, pedido: NovaReserva) -> Response[Any]:  # noqa: A002
    reserva, nova = livros.reservar(id, pedido)
    logger.info("estoque reservado" if nova else "reserva repetida", extra={"livro_id": id, "ordem_id": str(pedido.ordem_id)})
    return json_response(201 if nova else 200, reserva)


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
