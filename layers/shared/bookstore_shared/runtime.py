"""What an execution environment builds once, at cold start, and reuses while warm:
telemetry, validated settings (failing fast), the logger, the database and a resolver factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from bookstore_shared.api import create_app
from bookstore_shared.database import Database
from bookstore_shared.settings import ServiceSettings, load_settings
from bookstore_shared.telemetry import configure_telemetry

S = TypeVar("S", bound=ServiceSettings)


class ServiceRuntime(Generic[S]):
    def __init__(
        self,
        service_name: str,
        settings_type: type[S],
        register_error_handlers: Callable[[APIGatewayRestResolver], None],
    ) -> None:
        configure_telemetry()
        self.settings: S = load_settings(settings_type)
        self.logger = Logger(service=service_name)
        self.database = Database(self.settings, application_name=service_name, logger=self.logger)
        self._register_error_handlers = register_error_handlers

    def new_app(self) -> APIGatewayRestResolver:
        """One resolver per handler module (one function per route), all answering errors alike."""
        app = create_app(self.logger)
        self._register_error_handlers(app)
        return app
