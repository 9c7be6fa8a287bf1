"""Properties of the money, card, id and body rules, over many generated inputs (Hypothesis; the
profile in tests/conftest.py: `bounded` and derandomized in `make test`, `fuzz` in `make fuzz`).
No network: models, the order saga against fakes, and the API Gateway in this process."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from aws_lambda_powertools import Logger
from flask.testing import FlaskClient
from hypothesis import assume, example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from bookstore_shared.api import MAX_NUMBER_DIGITS, unusable_body
from bookstore_shared.models import CanonicalId, Cartao, Dinheiro, Uuid
from livros.models import NovoLivro
from ordens.clients import LivroRemoto
from ordens.models import NovaOrdem, StatusOrdem
from ordens.service import Ordens
from pagamentos.models import NovoPagamento
from tests.support.ordens_fakes import CallLog, FakeLivros, FakeOrdensRepository, FakePagamentos

MONEY = TypeAdapter(Dinheiro)
IDS = TypeAdapter(CanonicalId)
UUIDS = TypeAdapter(Uuid)
TWO_DECIMALS = re.compile(r"[0-9]+\.[0-9]{2}")
ORDEM_ID = "5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10"
CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "123"}

# Every amount the money type can hold: up to 10 digits and 2 decimals, NUMERIC(12, 2).
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2)


# --- Money ---------------------------------------------------------------------------------------


@given(amounts, st.sampled_from(["string", "number", "string without trailing zeros"]))
def test_any_valid_amount_round_trips_as_a_string_with_two_decimals(amount: Decimal, sent_as: str) -> None:
    # Given an amount sent as a JSON string or a JSON number (as the resolver parses the body)
    text = f"{amount:.2f}" if sent_as == "string" else f"{amount.normalize():f}"
    sent: Any = json.loads(text) if sent_as == "number" else text
    # When it is read and written back as JSON
    written = json.loads(MONEY.dump_json(MONEY.validate_python(sent)))
    # Then it is the same amount, as a string with exactly two decimals
    assert isinstance(written, str)
    assert TWO_DECIMALS.fullmatch(written), written
    assert Decimal(written) == amount


@given(amounts, st.integers(min_value=1, max_value=9))
def test_an_amount_with_a_third_decimal_is_refused(amount: Decimal, thousandth: int) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python(f"{amount:.2f}{thousandth}")


@given(st.decimals(max_value=Decimal(0), places=2, allow_nan=False, allow_infinity=False))
def test_an_amount_that_is_not_positive_is_refused(amount: Decimal) -> None:
    with pytest.raises(ValidationError):
        MONEY.validate_python(str(amount))


def _accepted(validate: Any) -> bool:
    try:
        validate()
    except ValidationError:
        return False
    return True


@given(amounts, st.integers(min_value=1, max_value=100))
def test_an_orders_total_is_price_times_quantity_to_the_cent_and_payments_accept_it(preco: Decimal, quantidade: int) -> None:
    # Given any price the catalog accepts for a book and any quantity an order accepts
    if not _accepted(lambda: NovoLivro(titulo="Livro", preco=preco, estoque=quantidade)):
        return  # not a book anyone can order
    log = CallLog()
    livros, pagamentos = FakeLivros(log, LivroRemoto(id=1, preco=preco, estoque=quantidade)), FakePagamentos(log)
    ordens = Ordens(FakeOrdensRepository(), livros, pagamentos, Logger(service="test-properties"))
    pedido = NovaOrdem(livro_id=1, quantidade=quantidade, cartao=Cartao.model_validate(CARD))
    # When the order is placed (against fakes of books, payments and the database)
    ordem, status = ordens.criar(pedido, None, posse_segundos=30.0)
    # Then it concludes, charging exactly price times quantity, written with two decimals
    assert (status, ordem.status) == (201, StatusOrdem.CONCLUIDA)
    assert ordem.valor_total == preco * quantidade
    assert json.loads(ordem.model_dump_json())["valor_total"] == f"{preco * quantidade:.2f}"
    [(_, valor)] = log.args_of("pagamentos.pagar")
    # ...an amount Pagamento accepts as a payment's valor
    NovoPagamento(ordem_id=UUID(ORDEM_ID), valor=valor, cartao=pedido.cartao)


# --- Cards -----------------------------------------------------------------------------------------


def _luhn_check_digit(body: str) -> str:
    total = 0
    for position, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


# 16 digits: a valid length for every brand but American Express (34, 37), which takes 15.
card_numbers = (
    st.text("0123456789", min_size=15, max_size=15)
    .filter(lambda body: body[:2] not in {"34", "37"} and body[0] != "0")
    .map(lambda body: body + _luhn_check_digit(body))
)


def _card(numero: str, cvv: str = "123") -> dict[str, str]:
    return {**CARD, "numero": numero, "cvv": cvv}


@given(card_numbers, st.sampled_from(["", " ", "-"]))
def test_a_luhn_valid_number_is_accepted_and_only_its_last_four_digits_are_kept(numero: str, separator: str) -> None:
    # Given a Luhn-valid number, written as printed on a card or not
    written = separator.join(numero[i : i + 4] for i in range(0, 16, 4))
    cartao = Cartao.model_validate(_card(written))
    assert cartao.numero == numero
    assert cartao.final == numero[-4:]
    assert numero not in repr(cartao)


@given(card_numbers, st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=9))
def test_any_single_digit_changed_in_a_valid_number_is_refused(numero: str, position: int, shift: int) -> None:
    # Given a valid number with one digit replaced by another (the Luhn check catches every such typo)
    changed = numero[:position] + str((int(numero[position]) + shift) % 10) + numero[position + 1 :]
    # Then the card is refused
    with pytest.raises(ValidationError):
        Cartao.model_validate(_card(changed))


@given(card_numbers, st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=9), st.from_regex(r"\A[0-9]{3,4}\Z"))
def test_a_refused_card_number_and_its_cvv_never_come_back_in_the_422(
    gateway: FlaskClient, numero: str, position: int, shift: int, cvv: str
) -> None:
    # Given a payment whose card number has one digit wrong, and a CVV
    changed = numero[:position] + str((int(numero[position]) + shift) % 10) + numero[position + 1 :]
    body = {"ordem_id": ORDEM_ID, "valor": "10.00", "cartao": _card(changed, cvv)}
    # When Pagamento refuses it
    response = gateway.post("/pagamentos", json=body)
    # Then the answer says where and why, and neither the number nor the CVV is in it
    assert response.status_code == 422, response.text
    assert response.json is not None
    assert [issue["loc"] for issue in response.json["detail"]] == [["body", "cartao", "numero"]]
    assert changed not in response.text
    assert cvv not in response.text


# --- Ids ---------------------------------------------------------------------------------------------

ids = st.integers(min_value=1, max_value=2**63 - 1)


@given(ids)
def test_a_positive_id_written_plainly_is_that_id(number: int) -> None:
    assert IDS.validate_python(str(number)) == number


@given(ids, st.sampled_from(["0{}", "+{}", "{}.0", " {}", "{} ", "{}e0", "-{}", "{}\n", "0x{}", "{},"]))
def test_any_other_spelling_of_an_id_is_refused(number: int, spelling: str) -> None:
    with pytest.raises(ValidationError):
        IDS.validate_python(spelling.format(number))


@given(ids, st.sampled_from(["0{}", "+{}", "{}.0", "{}%20", "%20{}", "{}e0"]))
def test_a_book_route_answers_422_to_any_other_spelling_of_its_id(gateway: FlaskClient, number: int, spelling: str) -> None:
    # Only the canonical spelling reaches the database (unreachable here: it would answer 503).
    assert gateway.get(f"/livros/{spelling.format(number)}").status_code == 422


@given(st.uuids())
def test_a_uuid_in_its_8_4_4_4_12_form_is_that_uuid(value: UUID) -> None:
    assert UUIDS.validate_python(str(value)) == value
    assert UUIDS.validate_python(str(value).upper()) == value


@given(st.uuids(), st.sampled_from(["{hex}", "{{{text}}}", "urn:uuid:{text}", " {text}", "{text}0"]))
def test_any_other_spelling_of_a_uuid_is_refused(value: UUID, spelling: str) -> None:
    with pytest.raises(ValidationError):
        UUIDS.validate_python(spelling.format(hex=value.hex, text=value))


# --- Bodies that never reach a handler ------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _event(body: str, content_type: str = "application/json") -> dict[str, Any]:
    return {"body": body, "headers": {"Content-Type": content_type}, "isBase64Encoded": False}


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return isinstance(value, list) and any(_has_nul(item) for item in value)


@given(json_values, st.sampled_from(["application/json", "Application/JSON; charset=UTF-8", "application/problem+json"]))
def test_any_json_document_without_a_nul_is_passed_to_the_resolver(document: Any, content_type: str) -> None:
    assume(not _has_nul(document))
    assert unusable_body(_event(json.dumps(document), content_type)) is None


# A document with a NUL somewhere: in a key, or in a value nested beside anything else.
documents_with_a_nul = st.tuples(json_values, st.text(max_size=8), st.text(max_size=8), st.booleans()).map(
    lambda parts: {f"{parts[1]}\x00{parts[2]}": parts[0]} if parts[3] else [parts[0], {"titulo": f"{parts[1]}\x00{parts[2]}"}]
)


@given(documents_with_a_nul)
def test_any_json_document_holding_a_nul_is_400(document: Any) -> None:
    # JSON text can hold it (as \u0000); PostgreSQL text cannot.
    assert unusable_body(_event(json.dumps(document))) == (400, "Corpo com caractere NUL")


@given(json_values, st.sampled_from(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "", "application/xml"]))
def test_any_body_declared_as_another_media_type_is_415(document: Any, content_type: str) -> None:
    assert unusable_body(_event(json.dumps(document), content_type)) == (415, "Content-Type deve ser application/json")


@given(st.integers(min_value=MAX_NUMBER_DIGITS + 1, max_value=5000), st.sampled_from(["{}", "-{}", "{}.5", "0.{}", "{}e1"]))
# Found by `make fuzz`: 41 digits and a fraction got through (the limit counted characters, up to 60).
@example(digits=MAX_NUMBER_DIGITS + 1, form="{}.5")
def test_a_number_longer_than_40_digits_anywhere_is_400(digits: int, form: str) -> None:
    number = form.format("9" * digits)
    assert unusable_body(_event(f'{{"preco": {number}}}')) == (400, "Corpo não é um JSON válido")
