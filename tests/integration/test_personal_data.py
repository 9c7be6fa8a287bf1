"""Card numbers and CVVs never reach a table, a log line or a span."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from psycopg import sql

from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED, new_book, order
from tests.support.documents import pairs

CARDS = [
    {**CARD_APPROVED, "numero": "5555555555554444", "cvv": "7391"},
    {**CARD_DECLINED, "cvv": "8264"},
]
TABLES = {"livros": ["livros", "reservas"], "ordens": ["ordens"], "pagamentos": ["pagamentos"]}


def leaks(document: Any) -> list[str]:
    found = []
    for key, value in pairs(document):
        text = str(value)
        for card in CARDS:
            if card["numero"] in text or text == card["cvv"]:
                found.append(f"{key}={text}")
        if key.lower() in {"numero", "cvv", "cartao"}:
            found.append(key)
    return found


@pytest.fixture
def log_lines(gateway: object) -> Iterator[io.StringIO]:
    """Every line the services' loggers print, formatted exactly as they print it."""
    sink = io.StringIO()
    copies = []
    for service in ("cadastro-de-livros", "ordem-de-compra", "pagamento"):
        service_logger = logging.getLogger(service)
        copy = logging.StreamHandler(sink)
        copy.setFormatter(service_logger.handlers[0].formatter)
        service_logger.addHandler(copy)
        copies.append((service_logger, copy))
    yield sink
    for service_logger, copy in copies:
        service_logger.removeHandler(copy)


def test_cards_leave_no_trace_in_data_logs_or_spans(
    api: httpx.Client,
    db: dict[str, psycopg.Connection[tuple[object, ...]]],
    log_lines: io.StringIO,
    spans: InMemorySpanExporter,
) -> None:
    # Given orders paid with real-looking cards, approved and declined
    book = new_book(api, estoque=5)
    for card in CARDS:
        assert order(api, book["id"], card=card).status_code in {201, 402}
    # And a payment refused for a card that fails the Luhn check
    bad = {**CARDS[0], "numero": "5555555555554445"}
    assert (
        api.post("/pagamentos", json={"ordem_id": "5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10", "valor": "1.00", "cartao": bad}).status_code
        == 422
    )
    CARDS.append(bad)

    # Then no row of any table holds a card number or a CVV
    for service, tables in TABLES.items():
        for table in tables:
            rows = db[service].execute(sql.SQL("SELECT row_to_json(t) FROM {} t").format(sql.Identifier(table))).fetchall()
            assert rows, f"{table} should have rows for this check to mean something"
            assert [leak for (row,) in rows for leak in leaks(row)] == []

    # And no log line does
    lines = [line for line in log_lines.getvalue().splitlines() if line.strip()]
    assert any('"pagamento processado"' in line for line in lines), "the handlers' logs were captured"
    for line in lines:
        try:
            assert leaks(json.loads(line)) == [], line
        except json.JSONDecodeError:
            assert not any(card["numero"] in line for card in CARDS), line

    # And no span attribute or event does
    finished = spans.get_finished_spans()
    assert finished
    for span in finished:
        assert leaks(dict(span.attributes or {})) == [], span.name
        for event in span.events:
            assert leaks(dict(event.attributes or {})) == [], span.name
