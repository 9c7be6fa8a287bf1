"""Start-up hooks for the fixture templates (`--startup tests.localcloud.hooks:…`)."""

from __future__ import annotations

from localcloud.cloud import StartupContext


def with_database(context: StartupContext) -> None:
    """Asks for the local cloud's PostgreSQL, as an application that keeps data would."""
    server = context.database()
    context.log(f"  fixture hook: a database on port {server.port}")


def failing(context: StartupContext) -> None:
    raise RuntimeError("the application could not start")
