"""One PostgreSQL connection per execution environment, reused across warm invocations.

A Lambda execution environment runs one invocation at a time on one thread, so the connection is
kept per thread: on Lambda that is exactly one per environment, and in the in-process tests each
worker thread plays one environment. A connection that has dropped while the environment was
frozen or idle is re-opened once, transparently, before the unit of work is retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import psycopg
from aws_lambda_powertools import Logger
from psycopg.rows import DictRow, dict_row

from bookstore_shared import telemetry
from bookstore_shared.secrets import database_credentials, forget_cached_credentials
from bookstore_shared.settings import ServiceSettings

T = TypeVar("T")
Connection = psycopg.Connection[DictRow]


class Database:
    def __init__(self, settings: ServiceSettings, application_name: str, logger: Logger) -> None:
        self._settings = settings
        self._logger = logger
        self._application_name = application_name
        self._local = threading.local()

    def run(self, work: Callable[[Connection], T]) -> T:
        """Runs `work` in one transaction: committed when it returns, rolled back when it raises.

        If the connection turns out to be dead when `work` first uses it, the environment
        reconnects and runs `work` once more; nothing was committed by the failed attempt.
        A failure of the commit itself is not retried, since the commit may have happened.
        """
        for attempt in (1, 2):
            connection = self._connection()
            try:
                result = work(connection)
            except psycopg.OperationalError:
                if connection.broken and attempt == 1:
                    self._logger.warning("database connection dropped; reconnecting once")
                    self.close()
                    continue
                self._rollback_quietly(connection)
                raise
            except BaseException:
                self._rollback_quietly(connection)
                raise
            connection.commit()
            return result
        raise AssertionError("unreachable: the second attempt returns or raises")

    def warm_up(self) -> None:
        """Opens this environment's connection ahead of the first request. A database that is
        down now is not fatal: the warning says so, and the first request tries again."""
        try:
            self._connection()
        except psycopg.OperationalError as error:
            self._logger.warning("database not reachable during init; the first request will retry", extra={"error": str(error)})

    def close(self) -> None:
        connection: Connection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None and not connection.closed:
            connection.close()

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None or connection.closed or connection.broken:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def _connect(self) -> Connection:
        try:
            return self._open()
        except psycopg.OperationalError:
            # The password may have been rotated since the secret was cached: read it again once.
            forget_cached_credentials()
            return self._open()

    def _open(self) -> Connection:
        with telemetry.step("secret fetch", **{"bookstore.secret.name": self._settings.db_secret_name}):
            credentials = database_credentials(self._settings.db_secret_name, self._settings.secret_max_age_seconds)
        attributes = {"db.system.name": "postgresql", "server.address": credentials.host, "server.port": credentials.port}
        with telemetry.step("database connection", **attributes):
            connection: Connection = psycopg.connect(
                host=credentials.host,
                port=credentials.port,
                user=credentials.username,
                password=credentials.password.get_secret_value(),
                dbname=credentials.dbname,
                application_name=self._application_name,
                connect_timeout=self._settings.db_connect_timeout_seconds,
                row_factory=dict_row,
            )
        return connection

    @staticmethod
    def _rollback_quietly(connection: Connection) -> None:
        if not connection.closed and not connection.broken:
            connection.rollback()
