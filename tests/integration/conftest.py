"""Integration tests: Bookstore on the local cloud, started in this process — the template's API
on SAM's own API Gateway, each function in real execution environments (awslambdaric processes),
a real PostgreSQL (embedded, or the server `BOOKSTORE_TEST_PG_ADMIN_DSN` names) provisioned by
Bookstore's start-up hook, AWS through moto's server. Orders reach books and payments over HTTP,
and faults are injected around the gateway's invocations (`cloud.gateway.faults`). Only loopback
traffic is allowed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from pytest_socket import socket_allow_hosts

from bookstore_dev.services import databases
from bookstore_dev.startup import HOOK
from bookstore_dev.template import ROOT, TEMPLATE
from bookstore_shared.http_client import SigV4
from localcloud.cloud import LocalCloud, Options
from localcloud.net import free_port
from localcloud.process import wait_until
from localcloud.traceview import Span, read_traces

DB = dict[str, psycopg.Connection[tuple[object, ...]]]
# Environments per function at most: the orders a concurrency test has in flight at once.
ENVIRONMENTS = 5


def pytest_runtest_setup() -> None:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state = tmp_path_factory.mktemp("cloud")
    # Ordem de Compra waits 2 s for its dependencies here, not the template's 4 s: the provisioned
    # environments below keep cold starts out of the orders, and the faults that make it give up
    # cost that wait each time.
    options = Options(
        template=TEMPLATE,
        state_dir=state,
        port=free_port(),
        otlp_port=free_port(),
        parameter_overrides={"DependencyTimeoutSeconds": "2"},
        max_environments=ENVIRONMENTS,
        throttle_wait_s=60,
        watch=False,
        database_url=os.environ.get("BOOKSTORE_TEST_PG_ADMIN_DSN"),
        build_dir=ROOT / ".local" / "build",  # the environments' packages, installed once per checkout
        startup=(HOOK,),
        # The reconciler runs when a test triggers it, never on its own in the middle of another test.
        schedules=False,
    )
    cloud = LocalCloud(options)
    cloud.start()
    try:
        # One environment of every function, all at once (ten cold starts fit the init limit).
        assert all(started == 1 for started in cloud.provision_each(dict.fromkeys(cloud.pools, 1)).values())
        yield cloud
    finally:
        cloud.stop()


def provision(cloud: LocalCloud, functions: list[str], environments: int = 1) -> None:
    """Starts `environments` environments of each function ahead of the requests (provisioned
    concurrency), so the cold starts are paid here and not inside an order's 2 s wait for its
    dependencies. One function after the other: every cold start at once would outlast Lambda's
    init limit on two cores."""
    for function in functions:
        cloud.provision(function, environments)
        assert len(cloud.pools[function].environments) >= environments, f"{function} did not get {environments} environments"


@pytest.fixture
def gateway_url(cloud: LocalCloud) -> str:
    return cloud.url


@pytest.fixture
def api(cloud: LocalCloud) -> Iterator[httpx.Client]:
    """The operator's client: signed with the local cloud's admin identity, so the tests can set up
    books and read payments as well as order (buyers' own doors: `buyer`, tests/integration/test_doors.py)."""
    with httpx.Client(base_url=cloud.url, timeout=30, auth=SigV4.from_profile(cloud.admin_credentials)) as client:
        yield client


@pytest.fixture
def buyer(cloud: LocalCloud) -> Iterator[httpx.Client]:
    """Anyone on the internet: no credentials."""
    with httpx.Client(base_url=cloud.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def conninfos(cloud: LocalCloud) -> dict[str, str]:
    """Each service's database as its own role, read from its secret, as its functions do."""
    secretsmanager = boto3.client(
        "secretsmanager", endpoint_url=cloud.aws_endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    found = {}
    for service in databases():
        secret = json.loads(secretsmanager.get_secret_value(SecretId=str(service.secret_name))["SecretString"])
        found[service.package] = make_conninfo(
            host=secret["host"], port=secret["port"], user=secret["username"], password=secret["password"], dbname=secret["dbname"]
        )
    return found


@pytest.fixture(scope="session")
def tables(conninfos: dict[str, str]) -> dict[str, list[str]]:
    """Each service's tables, as its migrations made them (whatever they are), read once."""
    found = {}
    for package, conninfo in conninfos.items():
        with psycopg.connect(conninfo) as connection:
            rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'")
            found[package] = sorted(str(table) for (table,) in rows)
    return found


@pytest.fixture
def postgres_admin(cloud: LocalCloud) -> str:
    return cloud.database().admin_conninfo


@pytest.fixture
def db(conninfos: dict[str, str]) -> Iterator[DB]:
    """A connection to each service's database, as that service's role, to check rows directly."""
    connections = {name: psycopg.connect(conninfo, autocommit=True) for name, conninfo in conninfos.items()}
    yield connections
    for connection in connections.values():
        connection.close()


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Clears the faults each test injected and deletes the rows it created, in every table of
    every service's database (what the migrations made, whatever it is)."""
    yield
    if "cloud" not in request.fixturenames:
        return
    cloud: LocalCloud = request.getfixturevalue("cloud")
    assert cloud.gateway is not None
    cloud.gateway.faults.clear()
    # An invocation whose caller gave up (a timeout the test provoked) may still be running: rows
    # it writes after the truncation would land in the next test's (same ids: RESTART IDENTITY).
    # Seen: a late reservation took stock from the next test's book.
    wait_until(lambda: not _busy(cloud), "every invocation ended", timeout_s=60)
    tables: dict[str, list[str]] = request.getfixturevalue("tables")
    for package, conninfo in request.getfixturevalue("conninfos").items():
        if tables[package]:
            with psycopg.connect(conninfo, autocommit=True) as connection:
                names = sql.SQL(", ").join(sql.Identifier(table) for table in tables[package])
                connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(names))


def _busy(cloud: LocalCloud) -> list[str]:
    """The functions with an environment starting or running an invocation."""
    return [
        name
        for name, environments in cloud.status().items()
        if any(environment["state"] in {"busy", "initializing"} for environment in environments)
    ]


SpanWait = Callable[[Callable[[list[Span]], bool]], list[Span]]


@pytest.fixture
def spans(cloud: LocalCloud) -> SpanWait:
    """Waits (with a deadline) until the spans the OTLP receiver has written satisfy a condition,
    and returns them: the functions export before they answer, the receiver writes just after."""
    traces_file: Path = cloud.options.state_dir / "telemetry" / "traces.jsonl"

    def wait(condition: Callable[[list[Span]], bool], timeout_s: float = 15) -> list[Span]:
        deadline = time.monotonic() + timeout_s
        while True:
            found = [span for trace in read_traces([traces_file]) for span in trace.spans] if traces_file.exists() else []
            if condition(found):
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"the spans never satisfied the condition ({len(found)} spans)")
            time.sleep(0.1)

    return wait
