"""Unit tests: no network at all (pytest-socket), AWS through moto, the handlers called in this
process behind the local cloud's API Gateway (SAM's own, so routing and events are those of
`sam local start-api`), without a socket. Database credentials point at a port nothing listens
on, so a handler that touched the database where it must not would answer 500 and fail its test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest
from flask.testing import FlaskClient
from moto import mock_aws
from pytest_socket import disable_socket

from bookstore_dev import template
from bookstore_dev.services import databases
from localcloud import template as cloud_template
from localcloud.inprocess import InProcessFunctions

UNREACHABLE = "http://127.0.0.1:9"

for service in databases():
    os.environ[service.secret_variable] = str(service.secret_name)
os.environ["ORDENS_LIVROS_API_URL"] = UNREACHABLE
os.environ["ORDENS_PAGAMENTOS_API_URL"] = UNREACHABLE


def pytest_runtest_setup() -> None:
    disable_socket(allow_unix_socket=False)


# Secrets Manager as the template names the secrets, holding unusable credentials. Started here,
# before any test module imports a handler: a handler's init (its cold start) reads its secret.
_aws = mock_aws()
_aws.start()
for service in databases():
    secret = {"host": "127.0.0.1", "port": 9, "username": service.database, "password": "x", "dbname": service.database}
    boto3.client("secretsmanager").create_secret(Name=str(service.secret_name), SecretString=json.dumps(secret))


@pytest.fixture(scope="session", autouse=True)
def aws() -> Iterator[None]:
    yield
    _aws.stop()


@pytest.fixture(scope="session")
def routes() -> dict[str, template.Route]:
    return {route.function: route for route in template.routes()}


@pytest.fixture(scope="session")
def gateway() -> FlaskClient:
    """The template's API, each function's real handler behind it, in this process."""
    return InProcessFunctions(cloud_template.load(template.TEMPLATE, {})).gateway().test_client()
