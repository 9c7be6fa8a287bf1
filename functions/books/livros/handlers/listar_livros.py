"""GET /livros — the catalog, ordered by id, one page at a time."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from bookstore_shared.api import lambda_handler
from bookstore_shared.telemetry import instrument_lambda_handler
from livros.models import MAX_PAGE
from livros.runtime import livros, logger, new_app

app = new_app()


@app.get("/livros")
def listar_livros(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Response[Any]:
    page = livros.listar(limit, offset)
    return Response(
        status_code=200,
        content_type="application/json",
        body="[" + ",".join(livro.model_dump_json() for livro in page) + "]",
    )


handler = lambda_handler(app, logger)
instrument_lambda_handler(__name__)
