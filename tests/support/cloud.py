"""Bookstore on the local cloud as the tests start it: as `make run` does (Bookstore's start-up
hook, its feature flags, the template's own settings, its dependency timeout included), with no
hot reload."""

from __future__ import annotations

import json
from pathlib import Path

from bookstore_dev.startup import FLAGS, HOOK
from bookstore_dev.template import TEMPLATE
from localcloud.process import LocalCloudProcess


def bookstore_cloud(state_dir: Path, *extra: str, variables: dict[str, str] | None = None) -> LocalCloudProcess:
    """`python -m localcloud` on Bookstore's template; `variables` go to every function through an
    env-vars file, as `sam local --env-vars` takes them."""
    if variables:
        env_vars = state_dir / "env-vars.json"
        state_dir.mkdir(parents=True, exist_ok=True)
        env_vars.write_text(json.dumps({"Parameters": variables}))
        extra = ("--env-vars", str(env_vars), *extra)
    return LocalCloudProcess(TEMPLATE, state_dir, "--no-watch", "--startup", HOOK, "--flags", str(FLAGS), *extra)
