"""POST /livros — adds a book to the catalog."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import LOCATION, answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import Livro, NovoLivro
from livros.runtime import livros, logger, new_app

app = new_app()


@app.post("/livros", responses=responses({201: answer("The book, added to the catalog", Livro, headers=LOCATION)}))
def criar_livro(novo: NovoLivro) -> Response[Any]:
    livro = livros.cadastrar(novo)
    logger.info("livro cadastrado", extra={"livro_id": livro.id})
    return json_response(201, livro, headers={"Location": f"/livros/{livro.id}"})


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
