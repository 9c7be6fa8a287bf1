"""Bookstore on the local cloud as the tests start it: as `make run` does (Bookstore's start-up
hook, its feature flags, the template's own settings, its dependency timeout included), with no
hot reload."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg

from bookstore_dev.services import databases as services_with_data
from bookstore_dev.startup import FLAGS, HOOK
from bookstore_dev.template import TEMPLATE
from bookstore_shared.http_client import SigV4
from localcloud.process import LocalCloudProcess
from tests.support.invariants import DB, reconcile_everything, violations


def bookstore_cloud(state_dir: Path, *extra: str, variables: dict[str, str] | None = None) -> LocalCloudProcess:
    """`python -m localcloud` on Bookstore's template; `variables` go to every function through an
    env-vars file, as `sam local --env-vars` takes them."""
    if variables:
        env_vars = state_dir / "env-vars.json"
        state_dir.mkdir(parents=True, exist_ok=True)
        env_vars.write_text(json.dumps({"Parameters": variables}))
        extra = ("--env-vars", str(env_vars), *extra)
    return LocalCloudProcess(TEMPLATE, state_dir, "--no-watch", "--startup", HOOK, "--flags", str(FLAGS), *extra)


def databases(state_dir: Path) -> DB:
    """Each service's database, as the embedded server's superuser (over its socket)."""
    run = state_dir / "postgres" / "run"
    port = (state_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]  # its 4th line, as PostgreSQL writes it
    names = [str(service.database) for service in services_with_data()]
    return {name: psycopg.connect(host=str(run), port=port, user="postgres", dbname=name, autocommit=True) for name in names}


def assert_consistent(cloud: LocalCloudProcess, initial_stock: dict[int, int]) -> None:
    """Once the reconciler has ended every order left PENDENTE, the three databases agree."""
    db = databases(cloud.state_dir)
    try:
        reconcile_everything(lambda: cloud.control("schedule/ReconciliarOrdensFunction"), db)
        assert violations(db, initial_stock) == []
    finally:
        for connection in db.values():
            connection.close()


def admin_book(cloud: LocalCloudProcess, estoque: int, titulo: str = "Livro de teste", preco: str = "12.50") -> int:
    """A new book, added as the cloud's admin (POST /livros is admin-only): its id."""
    body = {"titulo": titulo, "autor": "Anônimo", "preco": preco, "estoque": estoque}
    book = httpx.post(f"{cloud.url}/livros", json=body, timeout=60, auth=SigV4.from_profile(cloud.admin_credentials))
    assert book.status_code == 201, book.text
    livro_id: int = book.json()["id"]
    return livro_id
