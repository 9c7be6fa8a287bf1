"""Every use of SAM CLI's internals, in one place.

The local cloud reads template.yaml with SAM CLI's own providers and serves it with SAM CLI's own
local API Gateway, so templates resolve and events look exactly as under `sam local start-api`.
None of that is a public API of SAM CLI: it is pinned to exactly `aws-sam-cli==1.170.0`
(requirements-dev.in) and covered by tests/unit/test_samcli.py. A new SAM CLI version
means reading these calls against its source first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.provider import Api, Function, Stack
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.apigw.local_apigw_service import LocalApigwService
from samcli.local.lambdafn.env_vars import EnvironmentVariables
from samcli.yamlhelper import yaml_parse

VERSION = "1.170.0"

__all__ = ["VERSION", "Api", "Function", "FunctionFailed", "Stacks", "gateway_app", "load_stacks", "parse_template", "resolve_environment"]


def parse_template(text: str) -> dict[str, Any]:
    """A template's YAML (or JSON) as SAM reads it: CloudFormation's short tags (`!Ref X`) become
    their long form (`{"Ref": "X"}`)."""
    document: dict[str, Any] = yaml_parse(text)
    return document


@dataclass(frozen=True)
class Stacks:
    functions: dict[str, Function]  # by logical id
    api: Api  # every Api event's route
    resources: dict[str, Any]  # the root stack's resources, after SAM's transform
    root: Stack | None  # the root stack, for what SAM CLI leaves unresolved (see conditional_property)


def load_stacks(path: Path, parameter_overrides: dict[str, str], region: str) -> Stacks:
    """The template as `sam local` reads it: Globals merged, parameters and intrinsics resolved."""
    logging.getLogger("samcli").setLevel(logging.ERROR)
    stacks, _ = SamLocalStackProvider.get_stacks(
        str(path), parameter_overrides=parameter_overrides, global_parameter_overrides={"AWS::Region": region}
    )
    functions = {function.name: function for function in SamFunctionProvider(stacks, ignore_code_extraction_warnings=True).get_all()}
    api = ApiProvider(stacks, cwd=str(path.parent)).api
    return Stacks(functions, api, stacks[0].resources if stacks else {}, stacks[0] if stacks else None)


def resolve_environment(function: Function, overrides: dict[str, str], region: str) -> dict[str, str]:
    """The function's variables as `sam local` resolves them: the template's values (intrinsics
    resolved), then `overrides` (an --env-vars file's), with no shell variable leaking in."""
    variables: dict[str, Any] = (function.environment or {}).get("Variables", {}) or {}
    resolved: dict[str, str] = EnvironmentVariables(
        function_name=function.name,
        function_memory=function.memory,
        function_timeout=function.timeout,
        function_handler=function.handler,
        function_logging_config=function.logging_config,
        variables=variables,
        shell_env_values={},
        override_values=overrides,
        aws_creds={"region": region, "key": "local", "secret": "local"},
    ).resolve()
    return resolved


class FunctionFailed(Exception):
    """The invocation ended in an error, a crash or a timeout: API Gateway answers 502."""


# A function name and the event (JSON) in; the function's response document (JSON) out.
Invoke = Callable[[str, bytes], bytes]


class _Runner:
    """The surface of SAM's LocalLambdaRunner that LocalApigwService calls."""

    def __init__(self, invoke: Invoke) -> None:
        self._invoke = invoke

    def is_debugging(self) -> bool:
        return False

    def invoke(self, function_identifier: str, event: str, stdout: Any, stderr: Any = None, tenant_id: str | None = None) -> None:
        # tenant_id: SAM's multi-tenant functions, which the local cloud does not model.
        stdout.write_str(self._invoke(function_identifier.split("/")[-1], event.encode()).decode())


def gateway_app(api: Api, invoke: Invoke) -> Flask:
    """The Flask app of SAM's local API Gateway for `api`, invoking functions through `invoke`
    (which raises FunctionFailed for a failed invocation: this SAM version answers an error
    document with 500, and anything it cannot read with API Gateway's 502)."""
    service = LocalApigwService(api=api, lambda_runner=_Runner(invoke))
    service.create()
    app = service._app
    assert isinstance(app, Flask)
    app.logger.disabled = True  # FunctionFailed is expected; the function's own lines say what happened
    return app


def conditional_property(stack: Stack, value: Any) -> Any:
    """A property written `!If [Condition, value, !Ref AWS::NoValue]` (or plain), resolved as
    CloudFormation would: SAM CLI's resolver evaluates both branches of an `Fn::If` and fails on
    `AWS::NoValue`, so the condition is evaluated first, then only the branch it picks."""
    resolver = IntrinsicResolver(
        template=stack.template_dict,
        symbol_resolver=IntrinsicsSymbolTable(logical_id_translator=stack.parameters, template=stack.template_dict),
    )
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        condition, if_true, if_false = value["Fn::If"]
        holds = resolver.intrinsic_property_resolver(stack.template_dict["Conditions"][condition], ignore_errors=False)
        value = if_true if holds else if_false
    if value == {"Ref": "AWS::NoValue"}:
        return None
    return resolver.intrinsic_property_resolver(value, ignore_errors=False)
