"""One connection per execution environment, re-opened once when it has dropped."""

from __future__ import annotations

import httpx
import psycopg

from localcloud.cloud import LocalCloud
from localcloud.process import wait_until
from tests.support.bookstore import new_book


def test_a_dropped_connection_is_reopened_transparently(api: httpx.Client, postgres_admin: str) -> None:
    # Given warm environments holding connections to the books database
    book = new_book(api)
    assert api.get(f"/livros/{book['id']}").status_code == 200
    # When the server drops every connection of the books role (a failover, an idle timeout)
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        dropped = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'livros'").fetchone()
    assert dropped is not None
    assert dropped[0] >= 1
    # Then the next requests still succeed, on new connections
    for _ in range(3):
        assert api.get(f"/livros/{book['id']}").json()["id"] == book["id"]


def test_warm_environments_reuse_their_connection(api: httpx.Client, postgres_admin: str, cloud: LocalCloud) -> None:
    # Given a warm environment that answered once
    book = new_book(api)
    api.get(f"/livros/{book['id']}")
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        before = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'livros'").fetchone()
        # When it answers ten more requests, one after the other, each once the last has ended
        # (its extension exports after the answer: a request during that starts another environment)
        for _ in range(10):
            wait_until(lambda: "busy" not in {environment["state"] for environment in cloud.status()["ObterLivroFunction"]}, "idle")
            api.get(f"/livros/{book['id']}")
        after = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'livros'").fetchone()
    # Then no connection was opened for them
    assert before == after
