"""The order flow's invariants, checked on the three databases after load or faults: what a user
(or an auditor) would check, not what the code says it did."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg

DB = dict[str, psycopg.Connection[tuple[object, ...]]]


def violations(db: DB, initial_stock: dict[int, int]) -> list[str]:
    """Every broken invariant, as a sentence; empty when the data is consistent."""
    found: list[str] = []
    orders = db["ordens"].execute("SELECT id::text, livro_id, quantidade, valor_total, status FROM ordens").fetchall()
    payments = defaultdict(list)
    for ordem_id, valor, status in db["pagamentos"].execute("SELECT ordem_id::text, valor, status FROM pagamentos"):
        payments[str(ordem_id)].append((Decimal(str(valor)), str(status)))
    held = {str(ordem_id) for (ordem_id,) in db["livros"].execute("SELECT ordem_id::text FROM reservas WHERE status = 'RESERVADA'")}
    stock = {int(str(livro_id)): int(str(estoque)) for livro_id, estoque in db["livros"].execute("SELECT id, estoque FROM livros")}

    sold: dict[int, int] = defaultdict(int)
    for ordem_id, livro_id, quantidade, valor_total, status in orders:
        approved = [valor for valor, pagamento in payments[str(ordem_id)] if pagamento == "APROVADO"]
        if status == "CONCLUIDA":
            sold[int(str(livro_id))] += int(str(quantidade))
            if approved != [Decimal(str(valor_total))]:
                found.append(f"concluded order {ordem_id} has approved payments {approved}, not one of {valor_total}")
            if str(ordem_id) not in held:
                found.append(f"concluded order {ordem_id} holds no stock")
        elif status == "NAO_CONCLUIDA":
            if approved:
                found.append(f"not-concluded order {ordem_id} has an approved payment")
            if str(ordem_id) in held:
                found.append(f"not-concluded order {ordem_id} holds stock")
        else:
            found.append(f"order {ordem_id} is {status}")
    for livro_id, initial in initial_stock.items():
        if stock[livro_id] != initial - sold[livro_id]:
            found.append(f"book {livro_id}: stock {stock[livro_id]}, expected {initial} - {sold[livro_id]} sold")
    return found


def reconcile_everything(run_reconciler: Callable[[], dict[str, Any]], db: DB, timeout_s: float = 120) -> None:
    """Ends every order left PENDENTE, as the reconciler would once its threshold had passed: the
    orders aged past it, then runs (`run_reconciler`: however the cloud at hand triggers it) until
    none is left (a run leaves an order whose dependency fails for a later one)."""
    deadline = time.monotonic() + timeout_s
    while True:
        db["ordens"].execute(
            "UPDATE ordens SET atualizada_em = now() - interval '10 minutes',"
            " em_processamento_ate = em_processamento_ate - interval '10 minutes' WHERE status = 'PENDENTE'"
        )
        run = run_reconciler()
        assert run["outcome"] == "response", run
        if db["ordens"].execute("SELECT count(*) FROM ordens WHERE status = 'PENDENTE'").fetchone() == (0,):
            return
        assert time.monotonic() < deadline, f"orders still PENDENTE after reconciling for {timeout_s} s: {run}"
