"""The order flow's decisions, in-process against fakes of its collaborators (tests/support/ordens_fakes):
each outcome of each dependency at each step of the saga. The slow end-to-end tests over HTTP and
PostgreSQL (tests/integration/test_ordens.py) stay; these check every branch in milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from aws_lambda_powertools import Logger

from bookstore_shared.http_client import Failure
from bookstore_shared.models import Cartao
from ordens.clients import LivroRemoto, Reservou
from ordens.errors import ChaveDeIdempotenciaReutilizada, DependenciaIndisponivel, LivroNaoEncontrado, OrdemNaoEncontrada
from ordens.models import Motivo, NovaOrdem, OrdemRegistrada, StatusOrdem
from ordens.reconciliacao import ReconciliacaoSettings, Reconciliador
from ordens.service import Ordens
from tests.support.ordens_fakes import APROVADO, RECUSADO, CallLog, FakeLivros, FakeOrdensRepository, FakePagamentos, Script

LIVRO_ID = 7
LIVRO = LivroRemoto(id=LIVRO_ID, preco=Decimal("39.90"), estoque=10)
CARTAO = Cartao(numero="4111111111111111", titular="Maria Silva", validade="12/39", cvv="123")
STATUS_OF = {Failure.TIMEOUT: 504, Failure.UNAVAILABLE: 503, Failure.BAD_RESPONSE: 502}
FAILURES = [pytest.param(failure, STATUS_OF[failure], id=failure.value) for failure in Failure]
# How long a request owns its order: in memory, no other request waits on it.
POSSE_SEGUNDOS = 30.0

OBTER, RESERVAR, LIBERAR = "livros.obter", "livros.reservar", "livros.liberar"
PAGAR, CANCELAR = "pagamentos.pagar", "pagamentos.cancelar"


def pedido(quantidade: int = 2, livro_id: int = LIVRO_ID) -> NovaOrdem:
    return NovaOrdem(livro_id=livro_id, quantidade=quantidade, cartao=CARTAO)


@dataclass
class Saga:
    """`Ordens` wired to fakes, and the fakes, for the test to script and inspect."""

    ordens: Ordens
    repository: FakeOrdensRepository
    livros: FakeLivros
    pagamentos: FakePagamentos
    log: CallLog

    def stored(self, ordem_id: UUID) -> OrdemRegistrada:
        ordem = self.repository.select_ordem(ordem_id)
        assert ordem is not None
        return ordem


@pytest.fixture
def saga() -> Saga:
    log = CallLog()
    repository, livros, pagamentos = FakeOrdensRepository(), FakeLivros(log, LIVRO), FakePagamentos(log)
    return Saga(Ordens(repository, livros, pagamentos, Logger(service="test-saga-ordens")), repository, livros, pagamentos, log)


def pendente(quantidade: int = 2, key: str | None = "k-1") -> OrdemRegistrada:
    """An order as a request that stopped midway left it stored."""
    valor = (LIVRO.preco * quantidade).quantize(Decimal("0.01"))
    return OrdemRegistrada(
        id=uuid4(), idempotency_key=key, livro_id=LIVRO_ID, quantidade=quantidade, valor_total=valor, status=StatusOrdem.PENDENTE
    )


def finished(ordem: OrdemRegistrada, status: StatusOrdem, motivo: Motivo | None, http_status: int) -> OrdemRegistrada:
    return ordem.model_copy(update={"status": status, "motivo": motivo, "pagamento_id": uuid4(), "http_status": http_status})


# --- Everything answers ------------------------------------------------------------------------


def test_an_order_everything_accepts_is_201_concluded_reserved_and_charged_for_price_times_quantity(saga: Saga) -> None:
    # Given the book exists with stock, and reserving and paying work (the fakes' defaults)
    # When 2 copies at 39.90 are ordered
    ordem, status = saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    # Then the order is concluded with its payment, and stored as answered
    assert status == 201
    assert (ordem.status, ordem.motivo, ordem.pagamento_id, ordem.valor_total) == (
        StatusOrdem.CONCLUIDA, None, saga.pagamentos.pagamento_id, Decimal("79.80")
    )  # fmt: skip
    assert saga.stored(ordem.id) == ordem
    assert ordem.http_status == 201
    # And the stock was reserved and the card charged for that order, once each, nothing released
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR]
    assert saga.log.args_of(RESERVAR) == [(LIVRO_ID, ordem.id, 2)]
    assert saga.log.args_of(PAGAR) == [(ordem.id, Decimal("79.80"))]


def test_an_order_without_idempotency_key_is_placed_too(saga: Saga) -> None:
    ordem, status = saga.ordens.criar(pedido(), None, POSSE_SEGUNDOS)
    assert (status, ordem.status) == (201, StatusOrdem.CONCLUIDA)
    assert saga.stored(ordem.id).idempotency_key is None


# --- Step 1: validating the book ---------------------------------------------------------------


def test_an_unknown_book_is_livro_nao_encontrado_and_records_nothing(saga: Saga) -> None:
    # Given Cadastro de Livros does not know the book
    saga.livros.obter_script = Script(None)
    # When it is ordered, Then the order is refused before anything is recorded or reserved
    with pytest.raises(LivroNaoEncontrado):
        saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    assert saga.repository.ordens == {}
    assert saga.log.operations() == [OBTER]


@pytest.mark.parametrize(("failure", "http_status"), FAILURES)
def test_books_failing_at_validation_is_dependencia_indisponivel_with_its_status_and_records_nothing(
    saga: Saga, failure: Failure, http_status: int
) -> None:
    # Given Cadastro de Livros fails when asked for the book
    saga.livros.obter_script = Script(failure)
    # When the book is ordered
    with pytest.raises(DependenciaIndisponivel) as raised:
        saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the answer says which dependency, with the gateway status of that failure
    assert raised.value.status_code == http_status
    assert raised.value.extra == {"status": "NAO_CONCLUIDA", "motivo": Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL.value}
    # And nothing is recorded, so a retry with the same key starts afresh
    assert saga.repository.ordens == {}
    assert saga.log.operations() == [OBTER]


def test_a_stock_shortfall_seen_at_validation_is_409_without_reserving_or_charging(saga: Saga) -> None:
    # Given the book has 1 copy in stock
    saga.livros.obter_script = Script(LIVRO.model_copy(update={"estoque": 1}))
    # When 2 are ordered
    ordem, status = saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    # Then the order is refused for the stock, and stored so
    assert (status, ordem.status, ordem.motivo) == (409, StatusOrdem.NAO_CONCLUIDA, Motivo.ESTOQUE_INSUFICIENTE)
    assert saga.stored(ordem.id) == ordem
    # And nothing was reserved, charged or released
    assert saga.log.operations() == [OBTER]


def test_exactly_enough_stock_seen_at_validation_goes_on_to_reserve(saga: Saga) -> None:
    # Given the book has exactly the 2 copies ordered
    saga.livros.obter_script = Script(LIVRO.model_copy(update={"estoque": 2}))
    # When they are ordered, Then the order goes on to reserve and charge, and concludes
    _, status = saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    assert status == 201
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR]


# --- Step 2: recording the order ---------------------------------------------------------------


def test_losing_the_race_for_the_idempotency_key_answers_as_a_replay_of_the_winner(saga: Saga) -> None:
    # Given another request with the same key stores its order (and concludes it) between this
    # request's first look at the key and its insert
    winner = finished(pendente(key="k-1"), StatusOrdem.CONCLUIDA, None, 201)
    saga.repository.before_next_insert = lambda: saga.repository.store(winner)
    # When this request places the same order
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it answers the winner's order, and neither reserves nor charges again
    assert (ordem, status) == (winner, 201)
    assert list(saga.repository.ordens) == [winner.id]
    assert saga.log.operations() == [OBTER]


def test_losing_the_race_for_the_key_to_another_order_is_chave_reutilizada(saga: Saga) -> None:
    # Given another request stores an order of 1 copy under the key while this one orders 2
    winner = pendente(quantidade=1, key="k-1")
    saga.repository.before_next_insert = lambda: saga.repository.store(winner)
    # When this request places its order, Then it is refused and nothing else happens
    with pytest.raises(ChaveDeIdempotenciaReutilizada):
        saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    assert saga.repository.ordens == {winner.id: winner}
    assert saga.log.operations() == [OBTER]


# --- Step 3: reserving the stock ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("reservou", "http_status", "motivo"),
    [
        pytest.param(Reservou.SEM_ESTOQUE, 409, Motivo.ESTOQUE_INSUFICIENTE, id="no-stock"),
        pytest.param(Reservou.LIVRO_NAO_EXISTE, 404, Motivo.LIVRO_NAO_ENCONTRADO, id="book-gone"),
    ],
)
def test_a_refused_reservation_ends_the_order_without_charging_or_releasing(
    saga: Saga, reservou: Reservou, http_status: int, motivo: Motivo
) -> None:
    # Given the validation passes but Cadastro de Livros refuses the reservation
    saga.livros.reservar_script = Script(reservou)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it does not conclude, for that reason, and is stored so
    assert (status, ordem.status, ordem.motivo, ordem.pagamento_id) == (http_status, StatusOrdem.NAO_CONCLUIDA, motivo, None)
    assert saga.stored(ordem.id) == ordem
    # And there is nothing to charge, and nothing held to release
    assert saga.log.operations() == [OBTER, RESERVAR]


@pytest.mark.parametrize(("failure", "http_status"), FAILURES)
def test_a_failed_reservation_is_released_then_the_order_ends_with_the_failures_status(
    saga: Saga, failure: Failure, http_status: int
) -> None:
    # Given reserving fails (a timeout or a 5xx may still have reserved)
    saga.livros.reservar_script = Script(failure)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then whatever may be held is released, no card is charged, and the order does not conclude
    assert saga.log.operations() == [OBTER, RESERVAR, LIBERAR]
    assert saga.log.args_of(LIBERAR) == [(LIVRO_ID, ordem.id)]
    assert (status, ordem.status, ordem.motivo) == (http_status, StatusOrdem.NAO_CONCLUIDA, Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL)
    assert saga.stored(ordem.id) == ordem


@pytest.mark.parametrize(("failure", "http_status"), FAILURES)
def test_a_failed_reservation_that_cannot_be_released_stays_pending_with_the_reservations_status(
    saga: Saga, failure: Failure, http_status: int
) -> None:
    # Given reserving fails, and releasing fails too (with another failure than the reservation's)
    saga.livros.reservar_script = Script(failure)
    saga.livros.liberar_script = Script(Failure.UNAVAILABLE if failure is not Failure.UNAVAILABLE else Failure.TIMEOUT)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it is answered with the reservation's failure, saying why it stopped
    assert (status, ordem.status, ordem.motivo) == (http_status, StatusOrdem.PENDENTE, Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL)
    # And it stays PENDENTE (stock may be held) for a retry with the same key to settle, its first cause stored
    stored = saga.stored(ordem.id)
    assert (stored.status, stored.motivo, stored.http_status) == (StatusOrdem.PENDENTE, Motivo.CADASTRO_DE_LIVROS_INDISPONIVEL, http_status)

    assert PAGAR not in saga.log.operations()


# --- Step 4: charging the card -----------------------------------------------------------------


def test_a_declined_card_releases_the_stock_and_is_402_with_the_payment(saga: Saga) -> None:
    # Given Pagamento declines the card
    saga.pagamentos.pagar_script = Script(RECUSADO)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the reservation is released, nothing to cancel, and the order is refused with its payment
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, LIBERAR]
    assert (status, ordem.status, ordem.motivo) == (402, StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_RECUSADO)
    assert ordem.pagamento_id == saga.pagamentos.pagamento_id
    assert saga.stored(ordem.id) == ordem


@pytest.mark.parametrize(("failure", "http_status"), FAILURES)
def test_a_declined_card_whose_stock_cannot_be_released_stays_pending_with_the_release_status(
    saga: Saga, failure: Failure, http_status: int
) -> None:
    # Given a declined card, and releasing the stock fails
    saga.pagamentos.pagar_script = Script(RECUSADO)
    saga.livros.liberar_script = Script(failure)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the answer is the release's failure; the order stays PENDENTE for a retry
    assert (status, ordem.status, ordem.motivo) == (http_status, StatusOrdem.PENDENTE, Motivo.PAGAMENTO_RECUSADO)
    stored = saga.stored(ordem.id)
    # And the decline is stored as its cause, with the 402 a retry that finishes it will answer
    assert (stored.status, stored.motivo, stored.http_status) == (StatusOrdem.PENDENTE, Motivo.PAGAMENTO_RECUSADO, 402)


@pytest.mark.parametrize("failure", list(Failure))
def test_a_payment_failing_once_is_asked_again_for_the_same_order_and_concludes(saga: Saga, failure: Failure) -> None:
    # Given Pagamento fails the first call and approves the second
    saga.pagamentos.pagar_script = Script(failure, APROVADO)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it concludes with the payment
    assert (status, ordem.status, ordem.pagamento_id) == (201, StatusOrdem.CONCLUIDA, saga.pagamentos.pagamento_id)
    assert saga.stored(ordem.id) == ordem
    # And both calls were for the same order and amount (Pagamento's idempotency: one charge),
    # with nothing cancelled or released
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, PAGAR]
    assert saga.log.args_of(PAGAR) == [(ordem.id, Decimal("79.80"))] * 2


def test_a_payment_unreachable_twice_is_not_cancelled_the_stock_is_released_and_it_is_503(saga: Saga) -> None:
    # Given Pagamento cannot be reached at all (no call got to it: nothing can have been charged)
    saga.pagamentos.pagar_script = Script(Failure.UNAVAILABLE)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then there is no cancel, the stock is released, and the order does not conclude
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, PAGAR, LIBERAR]
    assert (status, ordem.status, ordem.motivo, ordem.pagamento_id) == (
        503, StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_INDISPONIVEL, None
    )  # fmt: skip
    assert saga.stored(ordem.id) == ordem


@pytest.mark.parametrize(
    ("first", "second", "http_status"),
    [
        pytest.param(Failure.TIMEOUT, Failure.TIMEOUT, 504, id="timeout-twice"),
        pytest.param(Failure.BAD_RESPONSE, Failure.BAD_RESPONSE, 502, id="bad-response-twice"),
        pytest.param(Failure.TIMEOUT, Failure.UNAVAILABLE, 503, id="timeout-then-unavailable"),
        pytest.param(Failure.UNAVAILABLE, Failure.BAD_RESPONSE, 502, id="unavailable-then-bad-response"),
    ],
)
def test_a_payment_that_may_have_charged_is_cancelled_then_the_stock_released(
    saga: Saga, first: Failure, second: Failure, http_status: int
) -> None:
    # Given both payment calls fail, at least one after reaching Pagamento (it may have charged)
    saga.pagamentos.pagar_script = Script(first, second)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the payment is cancelled first, then the stock released, in that order
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, PAGAR, CANCELAR, LIBERAR]
    assert saga.log.args_of(CANCELAR) == [(ordem.id,)]
    # And the order does not conclude, with the last failure's status and the cancelled payment
    assert (status, ordem.status, ordem.motivo) == (http_status, StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_INDISPONIVEL)
    assert ordem.pagamento_id == saga.pagamentos.pagamento_id
    assert saga.stored(ordem.id) == ordem


def test_a_cancel_finding_no_payment_ends_the_order_without_a_payment(saga: Saga) -> None:
    # Given payments time out twice and the cancel finds that nothing was charged
    saga.pagamentos.pagar_script = Script(Failure.TIMEOUT)
    saga.pagamentos.cancelar_script = Script(None)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it ends NAO_CONCLUIDA with no payment, the stock released
    assert (status, ordem.status, ordem.pagamento_id) == (504, StatusOrdem.NAO_CONCLUIDA, None)
    assert saga.log.operations()[-2:] == [CANCELAR, LIBERAR]


@pytest.mark.parametrize("cancel_failure", list(Failure))
def test_a_payment_that_cannot_be_cancelled_stays_pending_and_keeps_the_stock(saga: Saga, cancel_failure: Failure) -> None:
    # Given payments time out twice, and cancelling fails as well
    saga.pagamentos.pagar_script = Script(Failure.TIMEOUT)
    saga.pagamentos.cancelar_script = Script(cancel_failure)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the stock is not released (the card may be charged: the order may still conclude)
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, PAGAR, CANCELAR]
    # And the order stays PENDENTE, answered with the payment's failure
    assert (status, ordem.status, ordem.motivo) == (504, StatusOrdem.PENDENTE, Motivo.PAGAMENTO_INDISPONIVEL)
    assert saga.stored(ordem.id).status is StatusOrdem.PENDENTE


def test_a_cancelled_payment_whose_stock_cannot_be_released_stays_pending_with_the_payments_status(saga: Saga) -> None:
    # Given payments answer 5xx twice, the cancel works, and releasing the stock times out
    saga.pagamentos.pagar_script = Script(Failure.BAD_RESPONSE)
    saga.livros.liberar_script = Script(Failure.TIMEOUT)
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it stays PENDENTE, answered with the payment's failure and the cancelled payment
    assert saga.log.operations() == [OBTER, RESERVAR, PAGAR, PAGAR, CANCELAR, LIBERAR]
    assert (status, ordem.status, ordem.pagamento_id) == (502, StatusOrdem.PENDENTE, saga.pagamentos.pagamento_id)
    assert saga.stored(ordem.id).status is StatusOrdem.PENDENTE


# --- Step 5: finishing the order ---------------------------------------------------------------


def test_an_order_a_concurrent_request_finished_first_is_answered_as_stored(saga: Saga) -> None:
    # Given this request's payment cannot be reached, while a concurrent retry of the same order
    # (same key) concludes it just before this request records its own ending
    saga.pagamentos.pagar_script = Script(Failure.UNAVAILABLE)

    def concurrent_retry_concludes() -> None:
        (ordem,) = saga.repository.ordens.values()
        saga.repository.store(finished(ordem, StatusOrdem.CONCLUIDA, None, 201))

    saga.repository.before_next_update = concurrent_retry_concludes
    # When the order is placed
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the answer is the stored one (the concurrent retry's), which stays as it was
    assert (status, ordem.status, ordem.motivo) == (201, StatusOrdem.CONCLUIDA, None)
    assert saga.stored(ordem.id) == ordem


# --- Replays with the same Idempotency-Key -----------------------------------------------------


@pytest.mark.parametrize(
    ("status", "motivo", "http_status"),
    [
        pytest.param(StatusOrdem.CONCLUIDA, None, 201, id="concluded"),
        pytest.param(StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_RECUSADO, 402, id="declined"),
        pytest.param(StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_INDISPONIVEL, 503, id="payments-down"),
    ],
)
def test_a_replay_of_a_finished_order_gets_its_stored_answer_and_calls_nothing(
    saga: Saga, status: StatusOrdem, motivo: Motivo | None, http_status: int
) -> None:
    # Given an order finished under the key
    anterior = finished(pendente(quantidade=2, key="k-1"), status, motivo, http_status)
    saga.repository.store(anterior)
    # When the same order is sent again with the key
    ordem, answered = saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    # Then it gets the first answer, and no dependency is called (no second charge)
    assert (ordem, answered) == (anterior, http_status)
    assert saga.log.operations() == []
    assert saga.repository.ordens == {anterior.id: anterior}


@pytest.mark.parametrize(
    "outro_pedido",
    [pytest.param(pedido(quantidade=3), id="other-quantity"), pytest.param(pedido(livro_id=LIVRO_ID + 1), id="other-book")],
)
def test_a_key_reused_for_another_order_is_chave_reutilizada_and_calls_nothing(saga: Saga, outro_pedido: NovaOrdem) -> None:
    # Given an order of 2 copies of book 7 under the key
    anterior = finished(pendente(quantidade=2, key="k-1"), StatusOrdem.CONCLUIDA, None, 201)
    saga.repository.store(anterior)
    # When the key comes with another book or quantity, Then it is refused and nothing happens
    with pytest.raises(ChaveDeIdempotenciaReutilizada):
        saga.ordens.criar(outro_pedido, "k-1", POSSE_SEGUNDOS)
    assert saga.log.operations() == []
    assert saga.repository.ordens == {anterior.id: anterior}


def test_a_replay_of_a_pending_order_resumes_it_from_the_reservation(saga: Saga) -> None:
    # Given an order left PENDENTE under the key (its request stopped midway)
    anterior = pendente(quantidade=2, key="k-1")
    saga.repository.store(anterior)
    # When the client retries with the same key, the dependencies answering again
    ordem, status = saga.ordens.criar(pedido(quantidade=2), "k-1", POSSE_SEGUNDOS)
    # Then the same order is resumed (no new validation, no new order) and concludes
    assert (status, ordem.id, ordem.status) == (201, anterior.id, StatusOrdem.CONCLUIDA)
    assert list(saga.repository.ordens) == [anterior.id]
    assert saga.stored(anterior.id) == ordem
    # And the reservation and the charge are asked again for that order (both idempotent per order)
    assert saga.log.operations() == [RESERVAR, PAGAR]
    assert saga.log.args_of(RESERVAR) == [(LIVRO_ID, anterior.id, 2)]
    assert saga.log.args_of(PAGAR) == [(anterior.id, anterior.valor_total)]


def pendente_por(motivo: Motivo, http_status: int) -> OrdemRegistrada:
    """An order an earlier attempt gave up and could not finish compensating: its first cause stored."""
    return pendente().model_copy(update={"motivo": motivo, "http_status": http_status})


def test_a_retry_that_finds_the_reservation_released_ends_with_the_first_cause(saga: Saga) -> None:
    # Given an order left PENDENTE after a declined card, its release lost (it happened, unanswered)
    anterior = pendente_por(Motivo.PAGAMENTO_RECUSADO, 402)
    saga.repository.store(anterior)
    saga.livros.reservar_script = Script(Reservou.LIBERADA)
    # When the client retries with the same key
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the order ends as the first attempt decided, with its answer's cause, and nothing is charged
    assert (status, ordem.status, ordem.motivo) == (402, StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_RECUSADO)
    assert saga.log.operations() == [RESERVAR]
    assert saga.stored(ordem.id) == ordem


def test_a_retry_that_finds_the_reservation_released_with_no_cause_stored_says_so(saga: Saga) -> None:
    # Given an order left PENDENTE with no cause (its environment killed midway), its reservation released
    saga.repository.store(pendente())
    saga.livros.reservar_script = Script(Reservou.LIBERADA)
    # When the client retries, Then it ends refused for that, as 409, without charging
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    assert (status, ordem.status, ordem.motivo) == (409, StatusOrdem.NAO_CONCLUIDA, Motivo.RESERVA_LIBERADA)
    assert PAGAR not in saga.log.operations()


def test_a_retry_whose_payment_was_cancelled_ends_with_the_payments_failure_not_a_decline(saga: Saga) -> None:
    # Given an order left PENDENTE because payments did not answer and its stock could not be released
    saga.repository.store(pendente_por(Motivo.PAGAMENTO_INDISPONIVEL, 502))
    # And the payment it gets back on the retry is the one that attempt cancelled
    saga.pagamentos.pagar_script = Script(RECUSADO)
    # When the client retries
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then the stock is released and the order ends with the first cause, not PAGAMENTO_RECUSADO
    assert LIBERAR in saga.log.operations()
    assert (status, ordem.status, ordem.motivo) == (502, StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_INDISPONIVEL)


# --- Reconciliation: ending what no request finished ------------------------------------------


def test_the_reconciler_ends_an_interrupted_order_refunding_it_and_releasing_its_stock(saga: Saga) -> None:
    # Given an order left PENDENTE with no cause stored (its environment killed after the charge)
    anterior = pendente()
    saga.repository.store(anterior)
    # When the reconciler takes it
    tomada = saga.repository.reconciliar_proxima(300)
    assert tomada == anterior
    final = saga.ordens.reconciliar(tomada)
    # Then its payment is cancelled (a refund) before its stock is released, and it ends NAO_CONCLUIDA as interrupted
    assert saga.log.operations() == [CANCELAR, LIBERAR]
    assert saga.log.args_of(LIBERAR) == [(LIVRO_ID, anterior.id)]
    assert final is not None
    assert (final.status, final.motivo, final.http_status) == (StatusOrdem.NAO_CONCLUIDA, Motivo.ORDEM_INTERROMPIDA, 409)
    assert final.pagamento_id == saga.pagamentos.pagamento_id
    assert saga.stored(anterior.id) == final


def test_the_reconciler_ends_an_order_with_the_cause_an_attempt_stored(saga: Saga) -> None:
    # Given an order whose payment timed out and whose release failed: PENDENTE, cause stored
    saga.repository.store(pendente_por(Motivo.PAGAMENTO_INDISPONIVEL, 504))
    tomada = saga.repository.reconciliar_proxima(300)
    assert tomada is not None
    # When the reconciler ends it, Then it keeps that first cause and status
    final = saga.ordens.reconciliar(tomada)
    assert final is not None
    assert (final.status, final.motivo, final.http_status) == (StatusOrdem.NAO_CONCLUIDA, Motivo.PAGAMENTO_INDISPONIVEL, 504)


@pytest.mark.parametrize("failing", [CANCELAR, LIBERAR])
def test_a_reconciliation_whose_dependency_fails_leaves_the_order_pending_for_the_next_run(saga: Saga, failing: str) -> None:
    # Given an interrupted order, and payments or books failing
    anterior = pendente()
    saga.repository.store(anterior)
    if failing == CANCELAR:
        saga.pagamentos.cancelar_script = Script(Failure.TIMEOUT)
    else:
        saga.livros.liberar_script = Script(Failure.UNAVAILABLE)
    tomada = saga.repository.reconciliar_proxima(300)
    assert tomada is not None
    # When the reconciler tries, Then it gives up on it for now, and the order stays PENDENTE
    assert saga.ordens.reconciliar(tomada) is None
    assert saga.stored(anterior.id).status is StatusOrdem.PENDENTE
    # And its stock is never released before its payment is known cancelled
    if failing == CANCELAR:
        assert LIBERAR not in saga.log.operations()


def test_a_retry_of_an_order_the_reconciler_has_taken_is_202_pending_and_does_nothing(saga: Saga) -> None:
    # Given an interrupted order the reconciler is ending
    anterior = pendente(key="k-1")
    saga.repository.store(anterior)
    assert saga.repository.reconciliar_proxima(300) is not None
    # When the client retries with its key
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    # Then it is told the order is accepted and still PENDENTE, and nothing is reserved or charged
    assert (status, ordem.id, ordem.status) == (202, anterior.id, StatusOrdem.PENDENTE)
    assert saga.log.operations() == []


def test_a_retry_after_the_reconciler_ended_the_order_gets_the_reconcilers_answer(saga: Saga) -> None:
    # Given an interrupted order the reconciler has ended
    saga.repository.store(pendente(key="k-1"))
    tomada = saga.repository.reconciliar_proxima(300)
    assert tomada is not None
    saga.ordens.reconciliar(tomada)
    # When the client retries with its key, Then it gets that final answer, and nothing more is called
    calls = len(saga.log.calls)
    ordem, status = saga.ordens.criar(pedido(), "k-1", POSSE_SEGUNDOS)
    assert (status, ordem.status, ordem.motivo) == (409, StatusOrdem.NAO_CONCLUIDA, Motivo.ORDEM_INTERROMPIDA)
    assert len(saga.log.calls) == calls


SETTINGS = ReconciliacaoSettings(reconciliar_apos_segundos=300, http_timeout_seconds=4)
# Two calls of 4 s and a second of margin: what a run keeps in hand to start one more order.
RESERVA_MS = 9_000


def reconciliador(saga: Saga) -> Reconciliador:
    return Reconciliador(saga.repository, saga.ordens, SETTINGS, Logger(service="test-reconciliacao"))


def test_a_run_ends_every_interrupted_order_and_says_which(saga: Saga) -> None:
    # Given three interrupted orders
    ordens = [pendente(key=f"k-{n}") for n in range(3)]
    for ordem in ordens:
        saga.repository.store(ordem)
    # When the reconciler runs with plenty of time
    resultado = reconciliador(saga).executar(lambda: 60_000)
    # Then all three end NAO_CONCLUIDA, and the run lists them
    assert resultado == {"finalizadas": [str(ordem.id) for ordem in ordens], "adiadas": []}
    assert {saga.stored(ordem.id).status for ordem in ordens} == {StatusOrdem.NAO_CONCLUIDA}


def test_a_run_stops_at_a_failing_dependency_leaving_the_other_orders_untaken(saga: Saga) -> None:
    # Given three interrupted orders, and payments refusing connections
    ordens = [pendente(key=f"k-{n}") for n in range(3)]
    for ordem in ordens:
        saga.repository.store(ordem)
    saga.pagamentos.cancelar_script = Script(Failure.UNAVAILABLE)
    # When the reconciler runs
    resultado = reconciliador(saga).executar(lambda: 60_000)
    # Then the first waits for a later run, PENDENTE, and the others are not taken to fail the same
    # way (a retry with their key may still finish them)
    assert resultado == {"finalizadas": [], "adiadas": [str(ordens[0].id)]}
    assert saga.repository.reconciliando == {ordens[0].id}
    assert {saga.stored(ordem.id).status for ordem in ordens} == {StatusOrdem.PENDENTE}


def test_a_run_takes_no_order_it_may_not_have_time_to_finish(saga: Saga) -> None:
    # Given interrupted orders, and a run whose remaining time falls below one order's worst case after the first
    for n in range(3):
        saga.repository.store(pendente(key=f"k-{n}"))
    remaining = iter([RESERVA_MS + 1, RESERVA_MS])
    # When it runs, Then it ends one order and leaves the others untaken for the next run
    resultado = reconciliador(saga).executar(lambda: next(remaining))
    assert len(resultado["finalizadas"]) == 1
    assert len(saga.repository.reconciliando) == 1


# --- Reading an order --------------------------------------------------------------------------


def test_obter_answers_the_stored_order(saga: Saga) -> None:
    anterior = finished(pendente(), StatusOrdem.CONCLUIDA, None, 201)
    saga.repository.store(anterior)
    assert saga.ordens.obter(anterior.id) == anterior


def test_obter_an_unknown_order_is_ordem_nao_encontrada(saga: Saga) -> None:
    with pytest.raises(OrdemNaoEncontrada):
        saga.ordens.obter(uuid4())
