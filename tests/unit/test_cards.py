"""Card rules of Pagamento: Luhn, test cards, and a card model that never shows the number."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bookstore_shared.models import Cartao
from pagamentos.models import MotivoRecusa, StatusPagamento
from pagamentos.service import decide


def cartao(numero: str, validade: str = "12/39") -> Cartao:
    return Cartao(numero=numero, titular="Maria Silva", validade=validade, cvv="123")


@pytest.mark.parametrize(
    ("numero", "status", "motivo"),
    [
        ("4111111111111111", StatusPagamento.APROVADO, None),
        ("5555555555554444", StatusPagamento.APROVADO, None),
        ("4000000000000002", StatusPagamento.RECUSADO, MotivoRecusa.CARTAO_RECUSADO),
        ("4000000000009995", StatusPagamento.RECUSADO, MotivoRecusa.SALDO_INSUFICIENTE),
    ],
)
def test_test_cards_decide_the_payment(numero: str, status: StatusPagamento, motivo: MotivoRecusa | None) -> None:
    assert decide(cartao(numero).numero) == (status, motivo)


@pytest.mark.parametrize("numero", ["4111111111111112", "1234567812345678", "0000", "abcd"])
def test_numbers_failing_luhn_are_refused(numero: str) -> None:
    with pytest.raises(ValidationError):
        cartao(numero)


def test_spaces_and_dashes_in_the_number_are_ignored() -> None:
    assert cartao("4111 1111-1111 1111").numero == "4111111111111111"


def test_only_the_last_four_digits_are_exposed() -> None:
    card = cartao("5555555555554444")
    assert card.final == "4444"
    assert "5555555555554444" not in repr(card)
    assert "123" not in repr(card)


def test_an_expired_card_is_refused() -> None:
    with pytest.raises(ValidationError, match="cartão vencido"):
        cartao("4111111111111111", validade="01/21")
