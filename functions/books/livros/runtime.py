"""What a Cadastro de Livros execution environment builds once, at cold start, and reuses while
warm: settings (validated, failing fast), telemetry, logger, database and the domain service."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from bookstore_shared.api import create_app
from bookstore_shared.database import Database
from bookstore_shared.settings import ServiceSettings, load_settings
from bookstore_shared.telemetry import configure_telemetry
from pydantic_settings import SettingsConfigDict

from livros.errors import register_error_handlers
from livros.service import Livros

SERVICE_NAME = "cadastro-de-livros"


class LivrosSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIVROS_", frozen=True, extra="ignore")


configure_telemetry()
settings = load_settings(LivrosSettings)
logger = Logger(service=SERVICE_NAME)
livros = Livros(Database(settings, application_name=SERVICE_NAME))


def new_app() -> APIGatewayRestResolver:
    """One resolver per handler module (one function per route), all answering errors alike."""
    app = create_app(logger)
    register_error_handlers(app)
    return app
