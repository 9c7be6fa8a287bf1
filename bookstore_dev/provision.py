"""Creates, on a PostgreSQL server where we are superuser, what each service of the template
needs (see `services`): its own role (with a fresh password), its own database (which only that
role may connect to), its schema (migrations applied as that role) and the Secrets Manager
secret its functions read. The one provisioning of Bookstore: the local cloud's start-up, the
tests and the Docker path (`make up`) all run this.

Idempotent: running it again rotates the passwords, updates the secrets and applies only the
migrations that are missing.

    python -m bookstore_dev.provision --admin-dsn postgresql://postgres:PW@127.0.0.1:5433/postgres \\
        --aws-endpoint http://localhost:4566 [--secret-db-host postgres --secret-db-port 5432]

The `--secret-db-*` options name the server as the functions reach it (inside Docker's network,
`postgres:5432`) when that differs from how this command reaches it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bookstore_dev import migrations
from bookstore_dev.services import Service, databases
from bookstore_dev.template import TEMPLATE

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class Provisioned:
    service: Service
    conninfo: str  # as the service's own role, over TCP, as this process reaches the server


def provision(
    admin_conninfo: str,
    secretsmanager: SecretsManagerClient,
    template: Path = TEMPLATE,
    secret_host: tuple[str, int] | None = None,
    parameter_overrides: dict[str, str] | None = None,
) -> dict[str, Provisioned]:
    """Provisions every service with a database; returns them by package. The secrets name the
    server as `admin_conninfo` does, or as `secret_host` says when the functions reach it elsewhere."""
    parts = conninfo_to_dict(admin_conninfo)
    host, port = str(parts.get("host") or "127.0.0.1"), int(str(parts.get("port") or 5432))
    if host.startswith("/"):  # a Unix socket is for the superuser; the roles connect over TCP
        host = "127.0.0.1"
    secret_host = secret_host or (host, port)
    provisioned = {}
    for service in databases(template, parameter_overrides):
        assert service.database is not None
        assert service.secret_name is not None
        password = secrets.token_urlsafe(24)
        _ensure_role_and_database(admin_conninfo, service.database, password)
        conninfo = make_conninfo(host=host, port=port, user=service.database, password=password, dbname=service.database)
        migrations.apply(conninfo, service.migrations)
        _put_secret(
            secretsmanager,
            service.secret_name,
            {
                "engine": "postgres",
                "host": secret_host[0],
                "port": secret_host[1],
                "username": service.database,
                "password": password,
                "dbname": service.database,
            },
        )
        provisioned[service.package] = Provisioned(service, conninfo)
    return provisioned


def _ensure_role_and_database(admin_conninfo: str, name: str, password: str) -> None:
    role = sql.Identifier(name)
    with psycopg.connect(admin_conninfo, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
        verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
        admin.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(verb, role, sql.Literal(password)))
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(role, role))
        # Each service reaches only its own data, as separate RDS instances would enforce.
        admin.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(role))


def _put_secret(client: SecretsManagerClient, name: str, value: dict[str, object]) -> None:
    payload = json.dumps(value)
    try:
        client.put_secret_value(SecretId=name, SecretString=payload)
    except client.exceptions.ResourceNotFoundException:
        client.create_secret(Name=name, SecretString=payload)


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-dsn", required=True, help="a superuser connection string or URL")
    parser.add_argument("--aws-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"), help="Secrets Manager endpoint (LocalStack)")
    parser.add_argument("--secret-db-host", help="the server's host as the functions reach it")
    parser.add_argument("--secret-db-port", type=int, help="the server's port as the functions reach it")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    args = parser.parse_args(argv)
    secret_host = (args.secret_db_host, args.secret_db_port or 5432) if args.secret_db_host else None
    client = boto3.client("secretsmanager", endpoint_url=args.aws_endpoint)
    for package, item in provision(args.admin_dsn, client, args.template.resolve(), secret_host).items():
        print(f"bookstore: {package}: database, role and secret {item.service.secret_name} ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
