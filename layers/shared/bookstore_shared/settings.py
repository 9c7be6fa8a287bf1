"""Settings read from the environment and validated once, at cold start.

A missing or malformed variable stops the execution environment during init with a message
naming the variable, instead of surfacing later as a confusing error in the middle of a request.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every Bookstore function needs. Each service's subclass sets `env_prefix` to its
    package (`LIVROS_`), as the template's variables are named (`LIVROS_DB_SECRET_NAME`, see
    bookstore_dev/services.py)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    db_secret_name: str = Field(min_length=1, description="Secrets Manager id of the database credentials")
    secret_max_age_seconds: int = Field(default=300, ge=0, description="How long warm environments reuse the secret")
    db_connect_timeout_seconds: int = Field(default=5, ge=1, le=60)


class ConfigurationError(RuntimeError):
    """Raised at cold start when the environment does not describe a usable function."""


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_type: type[SettingsT]) -> SettingsT:
    """Builds the settings from the environment or fails fast with every invalid variable named."""
    try:
        return settings_type()
    except ValidationError as error:
        prefix = settings_type.model_config.get("env_prefix", "")
        problems = "; ".join(f"{prefix}{'.'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}" for issue in error.errors())
        raise ConfigurationError(f"invalid configuration for {settings_type.__name__}: {problems}") from None
