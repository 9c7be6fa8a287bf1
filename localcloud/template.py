"""template.yaml read by SAM CLI's own providers (Globals, parameters, intrinsics, layers), and
turned into what each execution environment needs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.errors import LocalCloudError
from localcloud.samcli import Api, Function, conditional_property, load_stacks, resolve_environment
from localcloud.schedules import Schedule, schedules

REGION = "us-east-1"
# What `!Sub https://${SomeApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}` resolves to locally.
API_URL = re.compile(r"^https://(?P<api>[A-Za-z0-9]+)\.execute-api\.[^/]+/[^/]+/?$")


@dataclass(frozen=True)
class CloudTemplate:
    path: Path
    functions: dict[str, Function]
    api: Api
    api_ids: frozenset[str]
    reserved_concurrency: dict[str, int]
    schedules: list[Schedule]
    resources: dict[str, Any]  # the template's resources as SAM reads them (intrinsics and policy templates resolved)
    # ProvisionedConcurrencyConfig: environments initialised ahead of requests, by function.
    provisioned_concurrency: dict[str, int] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent


def load(path: Path, parameter_overrides: dict[str, str]) -> CloudTemplate:
    if not path.is_file():
        raise LocalCloudError(f"template not found: {path}")
    try:
        stacks = load_stacks(path, parameter_overrides, REGION)
    except Exception as error:  # SAM raises many types for a broken template; all are this one message
        raise LocalCloudError(f"broken template {path.name}: {type(error).__name__}: {error}") from error
    functions, api, resources = stacks.functions, stacks.api, stacks.resources
    api_ids = frozenset(
        name for name, resource in resources.items() if resource.get("Type") in {"AWS::Serverless::Api", "AWS::ApiGateway::RestApi"}
    )
    if not api.routes:
        raise LocalCloudError(f"{path.name} declares no Api events: nothing to serve")
    reserved = {
        name: int(resource["Properties"]["ReservedConcurrentExecutions"])
        for name, resource in resources.items()
        if name in functions and "ReservedConcurrentExecutions" in (resource.get("Properties") or {})
    }
    provisioned = {}
    for name in functions:
        config = (resources.get(name, {}).get("Properties") or {}).get("ProvisionedConcurrencyConfig")
        if config is not None and stacks.root is not None:
            resolved = conditional_property(stacks.root, config)
            if resolved and int(resolved["ProvisionedConcurrentExecutions"]) > 0:
                provisioned[name] = int(resolved["ProvisionedConcurrentExecutions"])
    timed = [schedule for function in functions.values() for schedule in schedules(function.name, function.events)]
    template = CloudTemplate(path, functions, api, api_ids, reserved, timed, resources, provisioned)
    for function in functions.values():
        check_handler(template, function)
    return template


def code_path(template: CloudTemplate, uri: str | None) -> Path:
    path = Path(uri or ".")
    return path if path.is_absolute() else (template.root / path).resolve()


def check_handler(template: CloudTemplate, function: Function) -> None:
    """A missing handler module stops the start-up with its name, instead of failing a request later."""
    if not function.handler or "." not in function.handler:
        raise LocalCloudError(f"{function.name}: Handler {function.handler!r} is not module.function")
    module = function.handler.rsplit(".", 1)[0].replace(".", "/")
    code = code_path(template, function.codeuri)
    if not ((code / f"{module}.py").is_file() or (code / module / "__init__.py").is_file()):
        raise LocalCloudError(f"{function.name}: handler {function.handler} not found (no {module}.py under {code})")


def read_env_vars_file(path: Path | None) -> dict[str, dict[str, str]]:
    """An `--env-vars` file as `sam local` takes it: {"FunctionName": {...}, "Parameters": {...}}."""
    if path is None:
        return {}
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise LocalCloudError(f"cannot read env-vars file {path}: {error}") from error
    if not isinstance(document, dict) or not all(isinstance(value, dict) for value in document.values()):
        raise LocalCloudError(f"env-vars file {path} must map function names (or Parameters) to objects")
    return document


def environment(
    template: CloudTemplate, function: Function, env_vars: dict[str, dict[str, str]], api_url: str, injected: dict[str, str]
) -> dict[str, str]:
    """The function's environment as `sam local` resolves it, then pointed at the local cloud:
    the template's API URLs become the local API's, and `injected` (the AWS and OTLP endpoints,
    as LocalStack injects them) is added."""
    overrides = {**env_vars.get("Parameters", {}), **env_vars.get(function.name, {})}
    resolved = resolve_environment(function, overrides, REGION)
    for name, value in resolved.items():
        match = API_URL.match(value)
        if match and match["api"] in template.api_ids and name not in overrides:
            resolved[name] = api_url
    return {**resolved, **injected}
