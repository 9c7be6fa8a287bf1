"""What an execution environment builds once, at cold start, and reuses while warm: telemetry,
validated settings (failing fast), the logger, the database connection and a resolver factory.
Each step of that init is a span of the cold start (see `telemetry.init_phase`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from bookstore_shared import telemetry
from bookstore_shared.api import create_app
from bookstore_shared.database import Database
from bookstore_shared.flags import configure_flags
from bookstore_shared.log_format import TraceContextFormatter
from bookstore_shared.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)


class ServiceRuntime(Generic[S]):
    def __init__(
        self,
        service_name: str,
        settings_type: type[S],
        register_error_handlers: Callable[[APIGatewayRestResolver], None],
    ) -> None:
        telemetry.configure_telemetry()
        with telemetry.step("feature flags"):
            configure_flags()
        with telemetry.step("settings"):
            self.settings: S = load_settings(settings_type)
        self.logger = Logger(service=service_name, logger_formatter=TraceContextFormatter())
        telemetry.export_logs(service_name)
        self.database = Database(self.settings, application_name=service_name, logger=self.logger)
        # Connect now, during init (a cold start's work), not in the first request's handler.
        self.database.warm_up()
        self._register_error_handlers = register_error_handlers

    def new_app(self) -> APIGatewayRestResolver:
        """One resolver per handler module (one function per route), all answering errors alike."""
        app = create_app(self.logger)
        self._register_error_handlers(app)
        return app
