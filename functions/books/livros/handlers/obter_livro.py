"""GET /livros/{id} — one book, with its current price and stock."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import Livro, LivroId
from livros.runtime import livros, logger, new_app

app = new_app()


@app.get(
    "/livros/<id>", responses=responses({200: answer("The book, with its current price and stock", Livro), 404: answer("No such book")})
)
def obter_livro(id: LivroId) -> Response[Any]:  # noqa: A002 - the route's name
    return json_response(200, livros.obter(id))


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
