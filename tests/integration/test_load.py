"""300 orders from 16 clients, mixed cards and repeated keys: every answer is one a buyer may get,
and afterwards the data holds every invariant of the order flow."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from bookstore_dev.template import routes
from localcloud.cloud import LocalCloud
from tests.integration.conftest import DB, ENVIRONMENTS, provision
from tests.integration.test_concurrency import ORDER_PATH
from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED, CARD_NO_FUNDS, new_book, order
from tests.support.invariants import violations

ORDERS, CLIENTS = 300, 16


def test_three_hundred_orders_from_sixteen_clients_leave_consistent_data(
    api: httpx.Client, gateway_url: str, cloud: LocalCloud, db: DB
) -> None:
    # Given three books whose stock runs out under the load, and warm environments for an order's path
    stock = {new_book(api, estoque=estoque, titulo=f"Carga {estoque}")["id"]: estoque for estoque in (60, 25, 5)}
    provision(cloud, [route.function for route in routes() if f"{route.method} {route.path}" in ORDER_PATH], ENVIRONMENTS)
    plan = random.Random(8)  # the same load on every run
    cards = [CARD_APPROVED] * 8 + [CARD_DECLINED, CARD_NO_FUNDS]

    def key() -> str | None:
        return f"carga-{plan.randrange(ORDERS // 5)}" if plan.random() < 0.2 else None

    requests = [(plan.choice(list(stock)), plan.randint(1, 3), plan.choice(cards), key()) for _ in range(ORDERS)]

    # When sixteen clients send them at once (a repeated key may carry another order: a 422)
    def place(request: tuple[int, int, dict[str, str], str | None]) -> httpx.Response:
        livro_id, quantidade, card, key = request
        with httpx.Client(base_url=gateway_url, timeout=120) as client:
            return order(client, livro_id, quantidade, card, key)

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = Counter(response.status_code for response in pool.map(place, requests))

    # Then every answer is one the contract lists for a healthy system
    assert set(answers) <= {201, 402, 409, 422}, answers
    assert min(answers[201], answers[402], answers[409]) > 0, answers  # the load reached every outcome
    # And the data is consistent: stock = initial - concluded, one approved payment per concluded
    # order, nothing held or charged for the others, nothing left PENDENTE
    assert violations(db, stock) == []
