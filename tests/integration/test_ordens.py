"""Ordem de Compra over HTTP: the whole flow through the real books and payments handlers."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
from psycopg import sql

from localcloud import faults
from localcloud.cloud import LocalCloud
from localcloud.environment import InvocationReport
from tests.support.bookstore import CARD_DECLINED, new_book, order, stock_of

DB = dict[str, psycopg.Connection[tuple[object, ...]]]


def faults_of(cloud: LocalCloud) -> dict[str, faults.Fault]:
    assert cloud.gateway is not None
    return cloud.gateway.faults


def count(db: DB, service: str, table: str) -> Any:
    row = db[service].execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    assert row is not None
    return row[0]


def test_a_successful_order_is_concluded_charged_and_takes_the_stock(api: httpx.Client) -> None:
    # Given a book with 10 in stock at 39.90
    book = new_book(api, estoque=10, preco="39.90")
    # When 2 are ordered
    response = order(api, book["id"], quantidade=2)
    # Then the order is concluded for 79.80 and paid
    assert response.status_code == 201
    ordem = response.json()
    assert ordem == {
        "id": ordem["id"], "livro_id": book["id"], "quantidade": 2, "valor_total": "79.80",
        "status": "CONCLUIDA", "pagamento_id": ordem["pagamento_id"],
    }  # fmt: skip
    assert stock_of(api, book["id"]) == 8
    assert api.get(f"/ordens/{ordem['id']}").json() == ordem
    payment = api.get(f"/pagamentos/{ordem['pagamento_id']}").json()
    assert (payment["status"], payment["valor"], payment["ordem_id"]) == ("APROVADO", "79.80", ordem["id"])


def test_an_unknown_book_is_404_and_records_nothing(api: httpx.Client, db: DB) -> None:
    response = order(api, 987654)
    assert response.status_code == 404
    assert response.json() == {"message": "Livro não encontrado"}
    assert count(db, "ordens", "ordens") == 0


def test_not_enough_stock_is_409_and_holds_nothing(api: httpx.Client, db: DB) -> None:
    book = new_book(api, estoque=1)
    response = order(api, book["id"], quantidade=2)
    assert response.status_code == 409
    ordem = response.json()
    assert (ordem["status"], ordem["motivo"]) == ("NAO_CONCLUIDA", "ESTOQUE_INSUFICIENTE")
    assert api.get(f"/ordens/{ordem['id']}").json() == ordem
    assert stock_of(api, book["id"]) == 1
    assert count(db, "pagamentos", "pagamentos") == 0


def test_a_declined_card_is_402_and_leaves_the_stock_as_it_was(api: httpx.Client) -> None:
    book = new_book(api, estoque=3)
    response = order(api, book["id"], card=CARD_DECLINED)
    assert response.status_code == 402
    ordem = response.json()
    assert (ordem["status"], ordem["motivo"]) == ("NAO_CONCLUIDA", "PAGAMENTO_RECUSADO")
    assert api.get(f"/pagamentos/{ordem['pagamento_id']}").json()["status"] == "RECUSADO"
    assert stock_of(api, book["id"]) == 3


def test_payments_failing_is_502_and_leaves_the_stock_as_it_was(api: httpx.Client, cloud: LocalCloud) -> None:
    book = new_book(api, estoque=3)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.function_error
    response = order(api, book["id"])
    assert response.status_code == 502
    assert (response.json()["status"], response.json()["motivo"]) == ("NAO_CONCLUIDA", "PAGAMENTO_INDISPONIVEL")
    assert stock_of(api, book["id"]) == 3


def test_payments_dropping_the_connection_is_502_and_leaves_the_stock_as_it_was(api: httpx.Client, cloud: LocalCloud) -> None:
    book = new_book(api, estoque=3)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.dropped_connection
    response = order(api, book["id"])
    assert response.status_code == 502
    assert response.json()["status"] == "NAO_CONCLUIDA"
    assert stock_of(api, book["id"]) == 3


def test_a_payment_approved_but_never_answered_is_refunded_and_the_stock_released(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    # Given payments that charge the card but answer after the timeout, every time
    book = new_book(api, estoque=3)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.answer_after_the_caller_gave_up()
    # When an order is placed
    response = order(api, book["id"])
    # Then it does not conclude, and the charge it could not confirm is refunded
    assert response.status_code == 504
    ordem = response.json()
    assert (ordem["status"], ordem["motivo"]) == ("NAO_CONCLUIDA", "PAGAMENTO_INDISPONIVEL")
    assert api.get(f"/pagamentos/{ordem['pagamento_id']}").json()["status"] == "ESTORNADO"
    assert count(db, "pagamentos", "pagamentos") == 1
    assert stock_of(api, book["id"]) == 3


def test_a_payment_answered_too_late_is_asked_again_and_charged_once(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    # Given payments that approve the first request but answer after the timeout
    book = new_book(api, estoque=3)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.first_call_only(faults.answer_after_the_caller_gave_up())
    # When an order is placed
    response = order(api, book["id"])
    # Then the retry gets the same payment: concluded, charged once
    assert response.status_code == 201
    assert count(db, "pagamentos", "pagamentos") == 1
    assert stock_of(api, book["id"]) == 2


def test_books_timing_out_after_reserving_is_504_and_the_reservation_is_released(api: httpx.Client, cloud: LocalCloud) -> None:
    book = new_book(api, estoque=3)
    faults_of(cloud)["ReservarEstoqueFunction"] = faults.answer_after_the_caller_gave_up()
    response = order(api, book["id"])
    assert response.status_code == 504
    assert (response.json()["status"], response.json()["motivo"]) == ("NAO_CONCLUIDA", "CADASTRO_DE_LIVROS_INDISPONIVEL")
    assert stock_of(api, book["id"]) == 3


def test_books_failing_at_validation_is_502_and_records_nothing(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    book = new_book(api, estoque=3)
    faults_of(cloud)["ObterLivroFunction"] = faults.function_error
    response = order(api, book["id"])
    assert response.status_code == 502
    assert response.json()["status"] == "NAO_CONCLUIDA"
    assert count(db, "ordens", "ordens") == 0


def test_the_same_idempotency_key_gets_the_first_answer_and_no_second_charge(api: httpx.Client, db: DB) -> None:
    # Given an order placed with a key
    book = new_book(api, estoque=5)
    key = str(uuid.uuid4())
    first = order(api, book["id"], quantidade=2, key=key)
    # When it is sent again with the same key
    again = order(api, book["id"], quantidade=2, key=key)
    # Then the answer is the same and nothing happened twice
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert count(db, "ordens", "ordens") == 1
    assert count(db, "pagamentos", "pagamentos") == 1
    assert stock_of(api, book["id"]) == 3


def test_a_declined_order_replays_its_402(api: httpx.Client) -> None:
    book = new_book(api, estoque=5)
    first = order(api, book["id"], card=CARD_DECLINED, key="recusada-1")
    again = order(api, book["id"], card=CARD_DECLINED, key="recusada-1")
    assert first.status_code == again.status_code == 402
    assert again.json() == first.json()


def test_a_key_reused_for_another_order_is_422(api: httpx.Client) -> None:
    book = new_book(api, estoque=5)
    order(api, book["id"], quantidade=1, key="k-1")
    response = order(api, book["id"], quantidade=3, key="k-1")
    assert response.status_code == 422
    assert stock_of(api, book["id"]) == 4


def test_a_request_sent_again_while_the_first_still_runs_leaves_the_order_to_it(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    """Two requests with one key must not work on one order at once: a hostile probe saw one release
    the stock the other had sold, and one end NAO_CONCLUIDA an order the other then charged."""
    # Given the books service holding a first order's reservation until the test lets it go
    book = new_book(api, estoque=5)
    reached, release = threading.Event(), threading.Event()

    def held(invoke: faults.Invoke) -> InvocationReport:
        reached.set()
        release.wait(30)
        return invoke()

    faults_of(cloud)["ReservarEstoqueFunction"] = held
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(order, api, book["id"], 2, key="em-curso-1")
        assert reached.wait(30)
        # When an impatient client sends the same order again with its key
        again = order(api, book["id"], quantidade=2, key="em-curso-1")
        # Then it is answered at once, 202 PENDENTE: the order is the first request's
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "PENDENTE"
        release.set()
        concluded = first.result(timeout=60)
    # And the first request concludes it: one order, one reservation, one charge
    assert concluded.status_code == 201
    assert concluded.json()["id"] == again.json()["id"]
    assert count(db, "ordens", "ordens") == 1
    assert count(db, "pagamentos", "pagamentos") == 1
    assert stock_of(api, book["id"]) == 3
    # And once it has finished, the key replays its answer
    assert order(api, book["id"], quantidade=2, key="em-curso-1").json() == concluded.json()


def test_an_order_interrupted_midway_stays_pending_and_a_retry_finishes_it(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    # Given payments that charge but answer too late, and that cannot cancel either
    book = new_book(api, estoque=5)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.answer_after_the_caller_gave_up()
    faults_of(cloud)["CancelarPagamentoFunction"] = faults.function_error
    # When the order is placed
    interrupted = order(api, book["id"], quantidade=2, key="retomar-1")
    # Then it is not concluded, holds its reservation as PENDENTE, and says so
    assert interrupted.status_code == 504
    assert interrupted.json()["status"] == "PENDENTE"
    assert api.get(f"/ordens/{interrupted.json()['id']}").json()["status"] == "PENDENTE"
    assert stock_of(api, book["id"]) == 3
    # When the dependencies are back and the client retries with the same key
    faults_of(cloud).clear()
    finished = order(api, book["id"], quantidade=2, key="retomar-1")
    # Then the same order concludes with the payment that was made: one charge, the stock taken once
    assert finished.status_code == 201
    assert finished.json()["id"] == interrupted.json()["id"]
    assert finished.json()["status"] == "CONCLUIDA"
    assert stock_of(api, book["id"]) == 3
    assert count(db, "pagamentos", "pagamentos") == 1


def test_an_order_that_cannot_release_its_stock_stays_pending_until_a_retry(api: httpx.Client, cloud: LocalCloud, db: DB) -> None:
    # Given payments failing (then cancelled) and books unable to release the reservation
    book = new_book(api, estoque=5)
    faults_of(cloud)["CriarPagamentoFunction"] = faults.function_error
    faults_of(cloud)["LiberarReservaFunction"] = faults.function_error
    interrupted = order(api, book["id"], quantidade=2, key="retomar-2")
    assert (interrupted.status_code, interrupted.json()["status"]) == (502, "PENDENTE")
    assert stock_of(api, book["id"]) == 3
    # When the client retries once books is back
    faults_of(cloud).clear()
    finished = order(api, book["id"], quantidade=2, key="retomar-2")
    # Then the order ends NAO_CONCLUIDA for its first cause (payments failing, not a decline: the
    # payment the retry finds is the one the first attempt cancelled), its stock back, no charge
    assert finished.json()["id"] == interrupted.json()["id"]
    assert finished.status_code == 502
    assert (finished.json()["status"], finished.json()["motivo"]) == ("NAO_CONCLUIDA", "PAGAMENTO_INDISPONIVEL")
    assert stock_of(api, book["id"]) == 5
    approved = db["pagamentos"].execute("SELECT count(*) FROM pagamentos WHERE status = 'APROVADO'").fetchone()
    assert approved == (0,)


def test_unknown_order_is_404(api: httpx.Client) -> None:
    response = api.get(f"/ordens/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json() == {"message": "Ordem não encontrada"}


def test_a_reservation_that_commits_after_the_order_gave_up_gives_its_stock_back(
    api: httpx.Client, conninfos: dict[str, str], db: DB
) -> None:
    # Given a book whose row another session holds locked past Ordem de Compra's 2 s wait
    book = new_book(api, estoque=10)
    with psycopg.connect(conninfos["livros"]) as blocker:
        blocker.execute("SELECT 1 FROM livros WHERE id = %s FOR UPDATE", (book["id"],))
        # When an order is placed: its reservation waits for the lock, the order gives up on it
        given_up = order(api, book["id"], quantidade=2)
        assert given_up.status_code == 504
        assert given_up.json()["status"] != "CONCLUIDA"
    # (the lock is released: the reservation that was waiting commits now)
    # Then the stock comes back in full, the reservation released, and nothing was charged
    deadline = time.monotonic() + 30
    while stock_of(api, book["id"]) != 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stock_of(api, book["id"]) == 10
    reservation = db["livros"].execute("SELECT status, quantidade FROM reservas WHERE ordem_id = %s", (given_up.json()["id"],)).fetchone()
    assert reservation == ("LIBERADA", 2)
    assert count(db, "pagamentos", "pagamentos") == 0


def test_a_retry_after_a_decline_whose_release_was_not_answered_reports_the_decline(api: httpx.Client, cloud: LocalCloud) -> None:
    # Given a declined card, and books releasing the stock but answering after orders gave up
    book = new_book(api, estoque=5)
    faults_of(cloud)["LiberarReservaFunction"] = faults.answer_after_the_caller_gave_up()
    interrupted = order(api, book["id"], quantidade=2, card=CARD_DECLINED, key="recusada-sem-resposta")
    assert (interrupted.status_code, interrupted.json()["status"]) == (504, "PENDENTE")
    # When the client retries with the same key, books answering again
    faults_of(cloud).clear()
    finished = order(api, book["id"], quantidade=2, card=CARD_DECLINED, key="recusada-sem-resposta")
    # Then the order ends refused for the decline (the released reservation is not books failing)
    assert finished.status_code == 402
    assert (finished.json()["status"], finished.json()["motivo"]) == ("NAO_CONCLUIDA", "PAGAMENTO_RECUSADO")
    assert stock_of(api, book["id"]) == 5
