"""GET /livros — the catalog, ordered by id, one page at a time."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from bookstore_shared.api import json_response, lambda_handler
from bookstore_shared.responses import answer, responses
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import MAX_PAGE, Catalogo
from livros.runtime import livros, logger, new_app

app = new_app()


@app.get("/livros", responses=responses({200: answer("A page of the catalog, ordered by id", Catalogo)}))
def listar_livros(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response[Any]:
    return json_response(200, Catalogo(livros.listar(limit, offset)))


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
