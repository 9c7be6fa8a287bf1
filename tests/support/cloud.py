"""Bookstore on the local cloud as the tests start it: `make run`'s start-up hook, and Ordem de
Compra waiting longer for its dependencies than the template's 2 s, because these tests time
cold starts of several functions at once on a two-core machine, not the product's timeout."""

from __future__ import annotations

import json
from pathlib import Path

from bookstore_dev.startup import HOOK
from bookstore_dev.template import TEMPLATE
from localcloud.process import LocalCloudProcess

DEPENDENCY_TIMEOUT_SECONDS = "10"


def bookstore_cloud(state_dir: Path, *extra: str, variables: dict[str, str] | None = None) -> LocalCloudProcess:
    """`python -m localcloud` on Bookstore's template; `variables` join the env-vars file."""
    env_vars = state_dir / "env-vars.json"
    state_dir.mkdir(parents=True, exist_ok=True)
    env_vars.write_text(json.dumps({"Parameters": {"ORDENS_HTTP_TIMEOUT_SECONDS": DEPENDENCY_TIMEOUT_SECONDS, **(variables or {})}}))
    return LocalCloudProcess(TEMPLATE, state_dir, "--no-watch", "--startup", HOOK, "--env-vars", str(env_vars), *extra)
