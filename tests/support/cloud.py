"""Bookstore on the local cloud as the tests start it: as `make run` does (Bookstore's start-up
hook, the template's own settings, its dependency timeout included), with no hot reload."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from bookstore_dev.services import databases as services_with_data
from bookstore_dev.startup import HOOK
from bookstore_dev.template import TEMPLATE
from localcloud.process import LocalCloudProcess
from tests.support.invariants import DB


def bookstore_cloud(state_dir: Path, *extra: str, variables: dict[str, str] | None = None) -> LocalCloudProcess:
    """`python -m localcloud` on Bookstore's template; `variables` go to every function through an
    env-vars file, as `sam local --env-vars` takes them."""
    if variables:
        env_vars = state_dir / "env-vars.json"
        state_dir.mkdir(parents=True, exist_ok=True)
        env_vars.write_text(json.dumps({"Parameters": variables}))
        extra = ("--env-vars", str(env_vars), *extra)
    return LocalCloudProcess(TEMPLATE, state_dir, "--no-watch", "--startup", HOOK, *extra)


def databases(state_dir: Path) -> DB:
    """Each service's database of a cloud's embedded PostgreSQL, as its superuser (over its socket)."""
    run = state_dir / "postgres" / "run"
    port = (state_dir / "postgres" / "postmaster.pid").read_text().splitlines()[3]  # its 4th line, as PostgreSQL writes it
    names = [str(service.database) for service in services_with_data()]
    return {name: psycopg.connect(host=str(run), port=port, user="postgres", dbname=name, autocommit=True) for name in names}
