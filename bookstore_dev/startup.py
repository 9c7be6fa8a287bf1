"""Bookstore's start-up in the local cloud (`python -m localcloud --startup bookstore_dev.startup:start`):
each service of the served template gets its database, role, schema and secret, and an empty
catalogue gets a few sample books."""

from __future__ import annotations

import sys

from bookstore_dev.provision import provision
from bookstore_dev.seed import seed_books
from bookstore_dev.services import databases
from bookstore_dev.template import ROOT
from localcloud.cloud import StartupContext
from localcloud.iam import CREDENTIALS_FILE

HOOK = "bookstore_dev.startup:start"
# What the console's Start button runs: `make load`'s buyers, until Stop (or 10 minutes).
LOAD_USERS, LOAD_RUN_TIME = 4, "10m"
# The functions' feature flags (the faults a class turns on), every one off: `make run` passes it as --flags.
FLAGS = ROOT / "flags" / "bookstore.flagd.json"


def start(context: StartupContext) -> None:
    offer_load(context)
    if not databases(context.template, context.parameter_overrides):
        return  # a template whose services keep no data needs no PostgreSQL
    server = context.database()
    secretsmanager = context.client("secretsmanager")
    provisioned = provision(
        server.admin_conninfo, secretsmanager, context.template, server.reach, parameter_overrides=context.parameter_overrides
    )
    for package, item in provisioned.items():
        context.log(f"  {item.service.name}: database {package}, secret {item.service.secret_name}")
    catalogue = provisioned.get("livros")
    if catalogue is not None and (seeded := seed_books(catalogue.conninfo)):
        context.log(f"  seeded {seeded} sample books")


def offer_load(context: StartupContext) -> None:
    """The console's load generator: `make load`'s, against this cloud, as its admin for the set-up."""
    if context.state_dir is None:
        return
    command = [sys.executable, "-m", "bookstore_dev.load", "--host", context.api_url, "--users", str(LOAD_USERS), "--spawn-rate", "1"]
    command += [
        "--run-time",
        LOAD_RUN_TIME,
        "--credentials",
        str(context.state_dir / CREDENTIALS_FILE),
        "--out",
        str(context.state_dir / "load"),
    ]
    context.offer_load(command)
