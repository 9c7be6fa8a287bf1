"""Creates, on a PostgreSQL server where we are superuser, what each service needs: its own role
(with a fresh password), its own database (which only that role may connect to), its schema
(migrations applied as that role) and the Secrets Manager secret its functions read.

Idempotent: running it again rotates the passwords, updates the secrets and applies only the
migrations that are missing."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bookstore_dev import migrations, template

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class ServiceDatabase:
    name: str  # the role and the database
    migrations: Path
    secret_parameter: str  # the template parameter naming the secret

    @property
    def secret_name(self) -> str:
        return template.parameter_default(self.secret_parameter)


SERVICES = (
    ServiceDatabase("livros", template.ROOT / "functions/books/migrations", "LivrosDbSecretName"),
    ServiceDatabase("ordens", template.ROOT / "functions/orders/migrations", "OrdensDbSecretName"),
    ServiceDatabase("pagamentos", template.ROOT / "functions/payments/migrations", "PagamentosDbSecretName"),
)


@dataclass(frozen=True)
class Provisioned:
    service: ServiceDatabase
    conninfo: str  # as the service's own role, over TCP

    @property
    def secret_name(self) -> str:
        return self.service.secret_name


def provision(admin_conninfo: str, host: str, port: int, secretsmanager: SecretsManagerClient) -> dict[str, Provisioned]:
    provisioned = {}
    for service in SERVICES:
        password = secrets.token_urlsafe(24)
        _ensure_role_and_database(admin_conninfo, service.name, password)
        conninfo = make_conninfo(host=host, port=port, user=service.name, password=password, dbname=service.name)
        migrations.apply(conninfo, service.migrations)
        _put_secret(
            secretsmanager,
            service.secret_name,
            {
                "engine": "postgres",
                "host": host,
                "port": port,
                "username": service.name,
                "password": password,
                "dbname": service.name,
            },
        )
        provisioned[service.name] = Provisioned(service, conninfo)
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
