"""Settings fail fast at cold start; credentials come from Secrets Manager and are cached."""

from __future__ import annotations

import json

import boto3
import pytest

from bookstore_shared.secrets import database_credentials, forget_cached_credentials
from bookstore_shared.settings import ConfigurationError, load_settings
from ordens.runtime import OrdensSettings


def test_a_missing_variable_stops_the_cold_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an orders environment without the books URL
    monkeypatch.delenv("ORDENS_LIVROS_API_URL")
    # When its settings are loaded, Then the error names the variable
    with pytest.raises(ConfigurationError, match="ORDENS_LIVROS_API_URL"):
        load_settings(OrdensSettings)


def test_a_malformed_variable_stops_the_cold_start_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDENS_HTTP_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="ORDENS_HTTP_TIMEOUT_SECONDS"):
        load_settings(OrdensSettings)


def test_credentials_are_read_once_and_reused_while_warm() -> None:
    # Given a secret read once
    forget_cached_credentials()
    client = boto3.client("secretsmanager")
    name = "bookstore/test/db"
    client.create_secret(Name=name, SecretString=json.dumps({"host": "db", "port": 5432, "username": "u", "password": "p1", "dbname": "d"}))
    first = database_credentials(name, max_age_seconds=300)
    # When the secret changes while the environment is warm
    client.put_secret_value(
        SecretId=name, SecretString=json.dumps({"host": "db", "port": 5432, "username": "u", "password": "p2", "dbname": "d"})
    )
    # Then the cached value is reused, until the cache is dropped (as after a failed login)
    assert database_credentials(name, max_age_seconds=300).password.get_secret_value() == "p1"
    forget_cached_credentials()
    assert database_credentials(name, max_age_seconds=300).password.get_secret_value() == "p2"
    assert "p1" not in repr(first)
