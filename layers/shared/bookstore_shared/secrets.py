"""Database credentials from AWS Secrets Manager, cached across warm invocations.

The secret follows the layout RDS uses for its managed secrets:
`{"host", "port", "username", "password", "dbname"}`. Boto3 honours `AWS_ENDPOINT_URL`, which is
how LocalStack, moto's server and the local cloud are reached without code changes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, Field, SecretStr


class DatabaseCredentials(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    host: str
    port: int = Field(default=5432, ge=1, le=65535)
    username: str
    password: SecretStr  # SecretStr keeps the password out of reprs and log lines
    dbname: str


def database_credentials(secret_name: str, max_age_seconds: int) -> DatabaseCredentials:
    """Reads (or reuses, within `max_age_seconds`) the credentials stored under `secret_name`."""
    raw: Any = parameters.get_secret(secret_name, transform="json", max_age=max_age_seconds)
    return DatabaseCredentials.model_validate(raw)


def forget_cached_credentials() -> None:
    """Drops every cached secret, so a rotated password is read again on the next connection."""
    parameters.clear_caches()  # type: ignore[no-untyped-call]
