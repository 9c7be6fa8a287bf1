"""Start-up hooks for the fixture templates (`--startup tests.localcloud.hooks:…`)."""

from __future__ import annotations

import os
import signal

from localcloud.cloud import StartupContext


def with_database(context: StartupContext) -> None:
    """Asks for the local cloud's PostgreSQL, as an application that keeps data would."""
    server = context.database()
    context.log(f"  fixture hook: a database on port {server.port}")


def failing(context: StartupContext) -> None:
    raise RuntimeError("the application could not start")


def terminated(context: StartupContext) -> None:
    """Ctrl-C in the middle of the start-up: the cloud gets SIGTERM while a hook runs."""
    os.kill(os.getpid(), signal.SIGTERM)
