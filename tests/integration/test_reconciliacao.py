"""The reconciler over HTTP and PostgreSQL: an order whose request died midway (its environment
killed after the card was charged) is ended by the scheduled reconciler, its stock and money given
back, in a trace of its own that links to the order's."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from localcloud.cloud import LocalCloud
from localcloud.environment import InvocationReport
from localcloud.faults import Invoke
from tests.integration.conftest import SpanWait, provision
from tests.support.bookstore import new_book, order, stock_of
from tests.support.invariants import violations

DB = dict[str, psycopg.Connection[tuple[object, ...]]]
RECONCILER = "ReconciliarOrdensFunction"


class HeldAfterCharging:
    """A fault around Pagamento: the card is charged, then its answer is held until the test lets it go."""

    def __init__(self) -> None:
        self.charged = threading.Event()
        self.release = threading.Event()

    def __call__(self, invoke: Invoke) -> InvocationReport:
        report = invoke()
        self.charged.set()
        self.release.wait(30)
        return report


def kill_busy_environment(cloud: LocalCloud, function: str) -> None:
    (busy,) = [environment for environment in cloud.status()[function] if environment["state"] == "busy"]
    os.kill(busy["pid"], signal.SIGKILL)


def age(db: DB, ordem_id: str, minutes: int) -> None:
    """As if no request had touched the order for that long (the reconciler's threshold is 5 min):
    its last update and its owner's deadline (long past by then) move back together."""
    db["ordens"].execute(
        "UPDATE ordens SET atualizada_em = now() - make_interval(mins => %s),"
        " em_processamento_ate = em_processamento_ate - make_interval(mins => %s) WHERE id = %s",
        (minutes, minutes, ordem_id),
    )


def reconcile(cloud: LocalCloud) -> dict[str, Any]:
    run = cloud.trigger(RECONCILER)
    assert run["outcome"] == "response", run
    result: dict[str, Any] = run["response"]
    return result


def test_an_order_whose_environment_was_killed_after_the_charge_is_ended_by_the_reconciler_and_everything_given_back(
    api: httpx.Client, cloud: LocalCloud, db: DB, spans: SpanWait
) -> None:
    # Given a book with 5 in stock, and payments whose answer is held once the card is charged
    book = new_book(api, estoque=5)
    held = HeldAfterCharging()
    assert cloud.gateway is not None
    cloud.gateway.faults["CriarPagamentoFunction"] = held
    # When an order for 2 is placed and its environment is killed (kill -9) while it waits for payments
    with ThreadPoolExecutor(1) as client:
        placed = client.submit(order, api, book["id"], 2, key="morta-no-meio")
        assert held.charged.wait(30)
        kill_busy_environment(cloud, "CriarOrdemFunction")
        held.release.set()
        answer = placed.result(timeout=60)
    cloud.gateway.faults.clear()
    provision(cloud, ["CriarOrdemFunction"])
    # Then the client got API Gateway's 502, and the order is left PENDENTE, holding stock and money
    assert answer.status_code == 502
    ((ordem, status),) = db["ordens"].execute("SELECT id::text, status FROM ordens").fetchall()
    ordem_id = str(ordem)
    assert status == "PENDENTE"
    assert stock_of(api, book["id"]) == 3
    assert db["pagamentos"].execute("SELECT status FROM pagamentos WHERE ordem_id = %s", (ordem_id,)).fetchall() == [("APROVADO",)]

    # When the reconciler runs before the order is 5 minutes old, Then it leaves it alone (a retry may still finish it)
    assert reconcile(cloud) == {"finalizadas": [], "adiadas": []}
    assert api.get(f"/ordens/{ordem_id}").json()["status"] == "PENDENTE"

    # When it runs once the order has been left untouched for longer
    age(db, ordem_id, minutes=6)
    assert reconcile(cloud) == {"finalizadas": [ordem_id], "adiadas": []}
    # Then the order ends NAO_CONCLUIDA as interrupted, the stock is back and the charge refunded
    ended = api.get(f"/ordens/{ordem_id}").json()
    assert (ended["status"], ended["motivo"]) == ("NAO_CONCLUIDA", "ORDEM_INTERROMPIDA")
    assert stock_of(api, book["id"]) == 5
    assert db["pagamentos"].execute("SELECT status FROM pagamentos WHERE ordem_id = %s", (ordem_id,)).fetchall() == [("ESTORNADO",)]
    assert violations(db, {book["id"]: 5}) == []
    # And a retry with the order's key gets that end, without charging again
    retry = order(api, book["id"], 2, key="morta-no-meio")
    assert (retry.status_code, retry.json()["id"], retry.json()["motivo"]) == (409, ordem_id, "ORDEM_INTERROMPIDA")

    # And the reconciler's run is a trace of its own whose span for the order links to the order's trace
    def reconciled(found: list[Any]) -> bool:
        return any(span.name == "reconciliar ordem" and span.attributes.get("bookstore.order.id") == ordem_id for span in found)

    found = spans(reconciled)
    (reconciliation,) = [s for s in found if s.name == "reconciliar ordem" and s.attributes.get("bookstore.order.id") == ordem_id]
    # (the killed environment's own span never left it: the order's trace is what books and payments sent)
    (charging,) = [s for s in found if s.name == "POST /pagamentos" and s.attributes.get("bookstore.order.id") == ordem_id]
    assert reconciliation.trace_id != charging.trace_id
    assert [trace_id for trace_id, _ in reconciliation.links] == [charging.trace_id]
    run = [s for s in found if s.trace_id == reconciliation.trace_id]
    assert {s.service for s in run} >= {"ordem-de-compra", "pagamento", "cadastro-de-livros"}  # the cancel and the release in it
