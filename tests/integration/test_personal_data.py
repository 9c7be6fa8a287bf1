"""Card numbers and CVVs never reach a table, a log line or a span."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from localcloud.cloud import LocalCloud
from tests.integration.conftest import SpanWait
from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED, new_book, order
from tests.support.documents import pairs

CARDS = [
    {**CARD_APPROVED, "numero": "5555555555554444", "cvv": "7391"},
    {**CARD_DECLINED, "cvv": "8264"},
]


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


def test_cards_leave_no_trace_in_data_logs_or_spans(
    api: httpx.Client,
    db: dict[str, psycopg.Connection[tuple[object, ...]]],
    capfd: pytest.CaptureFixture[str],
    spans: SpanWait,
    cloud: LocalCloud,
    tables: dict[str, list[str]],
) -> None:
    # Given orders paid with real-looking cards, approved and declined
    book = new_book(api, estoque=5)
    for card in CARDS:
        assert order(api, book["id"], card=card).status_code in {201, 402}
    # And a client that sent its card number as the Idempotency-Key too (the key is stored with the order)
    first = order(api, book["id"], card=CARDS[0], key=CARDS[0]["numero"])
    assert first.status_code in {201, 402}
    assert order(api, book["id"], card=CARDS[0], key=CARDS[0]["numero"]).json() == first.json()  # still the same order
    # And a payment refused for a card that fails the Luhn check
    bad = {**CARDS[0], "numero": "5555555555554445"}
    assert (
        api.post("/pagamentos", json={"ordem_id": "5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10", "valor": "1.00", "cartao": bad}).status_code
        == 422
    )
    CARDS.append(bad)

    # Then no row of any table holds a card number or a CVV
    for service, connection in db.items():
        rows = [
            row
            for table in tables[service]
            for (row,) in connection.execute(sql.SQL("SELECT row_to_json(t) FROM {} t").format(sql.Identifier(table))).fetchall()
        ]
        assert rows, f"{service} should have rows for this check to mean something"
        assert [leak for row in rows for leak in leaks(row)] == []

    # And no line the functions printed does (the local cloud prints them as `[Function] line`)
    lines = [line.split("] ", 1)[-1] for line in capfd.readouterr().out.splitlines() if line.startswith("[")]
    assert any('"pagamento processado"' in line for line in lines), "the handlers' logs were captured"
    for line in lines:
        try:
            assert leaks(json.loads(line)) == [], line
        except json.JSONDecodeError:
            assert not any(card["numero"] in line for card in CARDS), line

    # And nothing the functions exported does: no span attribute, event or resource
    spans(lambda found: sum(span.name == "POST /pagamentos" for span in found) >= 3)
    exported = (cloud.options.state_dir / "telemetry" / "traces.jsonl").read_text().splitlines()
    assert [leak for line in exported for leak in leaks(json.loads(line))] == []
