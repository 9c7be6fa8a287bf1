"""Pagamento over HTTP, on a real PostgreSQL."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED, CARD_NO_FUNDS


def pay(api: httpx.Client, ordem_id: str, card: dict[str, str], valor: str = "79.80") -> httpx.Response:
    return api.post("/pagamentos", json={"ordem_id": ordem_id, "valor": valor, "cartao": card})


def test_an_approved_payment_keeps_only_the_last_four_digits(api: httpx.Client) -> None:
    ordem_id = str(uuid.uuid4())
    response = pay(api, ordem_id, {**CARD_APPROVED, "numero": "5555555555554444"})
    assert response.status_code == 201
    payment = response.json()
    assert payment == {"id": payment["id"], "ordem_id": ordem_id, "valor": "79.80", "status": "APROVADO", "cartao_final": "4444"}
    assert api.get(f"/pagamentos/{payment['id']}").json() == payment


@pytest.mark.parametrize(("card", "motivo"), [(CARD_DECLINED, "CARTAO_RECUSADO"), (CARD_NO_FUNDS, "SALDO_INSUFICIENTE")])
def test_test_cards_are_declined_with_their_reason(api: httpx.Client, card: dict[str, str], motivo: str) -> None:
    response = pay(api, str(uuid.uuid4()), card)
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["motivo"]) == ("RECUSADO", motivo)


def test_a_repeated_payment_for_an_order_is_the_same_payment(
    api: httpx.Client, db: dict[str, psycopg.Connection[tuple[object, ...]]]
) -> None:
    # Given a payment for an order
    ordem_id = str(uuid.uuid4())
    first = pay(api, ordem_id, CARD_APPROVED)
    # When the same order is paid again, even with another card
    again = pay(api, ordem_id, CARD_DECLINED)
    # Then the first payment is returned and nothing new is charged
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert db["pagamentos"].execute("SELECT count(*) FROM pagamentos").fetchone() == (1,)


def test_the_same_order_with_another_amount_is_409(api: httpx.Client) -> None:
    ordem_id = str(uuid.uuid4())
    pay(api, ordem_id, CARD_APPROVED, valor="10.00")
    assert pay(api, ordem_id, CARD_APPROVED, valor="20.00").status_code == 409


def test_unknown_payment_is_404(api: httpx.Client) -> None:
    response = api.get(f"/pagamentos/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"message": "Pagamento não encontrado"}


def test_a_cancelled_order_is_refunded_and_a_late_charge_refused(api: httpx.Client) -> None:
    # Given an approved payment, When its order is cancelled (twice: idempotent)
    ordem_id = str(uuid.uuid4())
    payment = pay(api, ordem_id, CARD_APPROVED).json()
    first = api.post("/pagamentos/cancelamentos", json={"ordem_id": ordem_id})
    again = api.post("/pagamentos/cancelamentos", json={"ordem_id": ordem_id})
    # Then it is refunded
    assert first.status_code == again.status_code == 200
    assert first.json()["pagamento"]["status"] == "ESTORNADO"
    assert api.get(f"/pagamentos/{payment['id']}").json()["status"] == "ESTORNADO"
    # And a charge that arrives after the cancellation of another order is refused
    late = str(uuid.uuid4())
    assert api.post("/pagamentos/cancelamentos", json={"ordem_id": late}).json() == {"ordem_id": late, "pagamento": None}
    refused = pay(api, late, CARD_APPROVED).json()
    assert (refused["status"], refused["motivo"]) == ("RECUSADO", "ORDEM_CANCELADA")
