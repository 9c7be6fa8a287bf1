"""Bookstore's services, read from template.yaml: the one list of them, and the one convention
that gives each service all of its names.

A service is the set of functions that share a `CodeUri`. Everything else follows from that:

    code folder    the CodeUri                                   functions/books
    package        the first part of its functions' Handler      livros
    service.name   its functions' OTEL_SERVICE_NAME              cadastro-de-livros
    API            the RestApiId of its functions' Api events    LivrosApi
    database, role the package                                   livros
    secret         the default of the parameter that its         bookstore/livros/db
                   `<PACKAGE>_DB_SECRET_NAME` variable references (LivrosDbSecretName)
    migrations     <code folder>/migrations/NNNN_name.sql

A service with no `<PACKAGE>_DB_SECRET_NAME` variable has no database. Adding a service is adding
its folder and its template entries: every tool (provisioning, the local cloud's start-up, the
Docker path, the tests' clean-up, lint and type-check paths) reads this list.

Where other services reach an API: a template parameter named `<ApiLogicalId>Url` (LivrosApiUrl
for LivrosApi) overrides it; empty, the functions use this stack's own URL of that API (at
`ExecuteApiEndpoint`, LocalStack's, when `make deploy` gives one). `make sam-local`, which serves
every API on one port, sets the variables that reference these parameters, by this convention
instead of by name.

    python -m bookstore_dev.services [--template T] paths     code folders and layers, one per line
    python -m bookstore_dev.services [--template T] list      one service per line, tab-separated
    python -m bookstore_dev.services [--template T] apis      one API per line: logical id, service.name,
                                                              its `<ApiLogicalId>Url` parameter or -
    python -m bookstore_dev.services [--template T] sam-local-env [--url U] [--region R]
                                     [--parameter-overrides K=V ...]
        the `sam local --env-vars` file (JSON): for every function, every variable it declares,
        as SAM resolves the template with those overrides, and every variable that references
        an API's `<ApiLogicalId>Url` parameter pointing at U (default http://host.docker.internal:3000).
        Explicit values, because sam local lets a shell variable of the same name replace a
        template value (an exported OTEL_SERVICE_NAME would rename every function), never an
        --env-vars one.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bookstore_dev.template import TEMPLATE, layer_paths, load

FUNCTION = "AWS::Serverless::Function"


class TemplateConventionError(ValueError):
    """The template breaks the naming convention above; the message says where."""


@dataclass(frozen=True)
class Service:
    name: str  # service.name
    package: str
    code: Path
    api: str | None  # logical id of its API
    functions: tuple[str, ...]  # logical ids
    secret_parameter: str | None  # template parameter naming its database secret
    secret_name: str | None  # that parameter's default

    @property
    def database(self) -> str | None:
        """Its database and the role that owns it (None: the service keeps no data)."""
        return self.package if self.secret_name else None

    @property
    def secret_variable(self) -> str:
        return f"{self.package.upper()}_DB_SECRET_NAME"

    @property
    def migrations(self) -> Path:
        return self.code / "migrations"


def services(template: Path = TEMPLATE, parameter_overrides: dict[str, str] | None = None) -> list[Service]:
    """Every service of the template, in the order their first function appears; a secret's
    name is its parameter's value in `parameter_overrides` (as `--parameter-overrides` gives
    it), else the parameter's Default."""
    document = load(template)
    root = template.parent
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] == FUNCTION:
            code_uri = str(resource["Properties"]["CodeUri"]).rstrip("/")
            groups.setdefault(code_uri, []).append((logical_id, resource["Properties"]))
    overrides = parameter_overrides or {}
    return [_service(document, root, code_uri, functions, overrides) for code_uri, functions in groups.items()]


def databases(template: Path = TEMPLATE, parameter_overrides: dict[str, str] | None = None) -> list[Service]:
    """The services that keep data, each in a database of its own."""
    return [service for service in services(template, parameter_overrides) if service.database]


def _service(
    document: dict[str, Any], root: Path, code_uri: str, functions: list[tuple[str, dict[str, Any]]], overrides: dict[str, str]
) -> Service:
    packages = {properties["Handler"].split(".")[0] for _, properties in functions}
    package = _one(packages, code_uri, "Handler package")
    variables = [properties.get("Environment", {}).get("Variables", {}) for _, properties in functions]
    name = _one({str(each.get("OTEL_SERVICE_NAME")) for each in variables}, code_uri, "OTEL_SERVICE_NAME")
    apis = {
        _ref(event["Properties"].get("RestApiId"))
        for _, properties in functions
        for event in properties.get("Events", {}).values()
        if event["Type"] == "Api"
    }
    secret_variable = f"{package.upper()}_DB_SECRET_NAME"
    secret_parameter = secret_name = None
    if any(secret_variable in each for each in variables):
        secret_parameter = _one({_ref(each.get(secret_variable)) for each in variables}, code_uri, f"{secret_variable}: !Ref <parameter>")
        parameter = document.get("Parameters", {}).get(secret_parameter)
        if parameter is None or "Default" not in parameter:
            raise TemplateConventionError(f"{code_uri}: {secret_variable} must !Ref a parameter with a Default (the secret's name)")
        secret_name = str(overrides.get(secret_parameter, parameter["Default"]))
    return Service(
        name=name,
        package=package,
        code=(root / code_uri).resolve(),
        api=_one(apis, code_uri, "RestApiId") if apis else None,
        functions=tuple(logical_id for logical_id, _ in functions),
        secret_parameter=secret_parameter,
        secret_name=secret_name,
    )


def _ref(value: Any) -> str | None:
    return str(value["Ref"]) if isinstance(value, dict) and "Ref" in value else None


def _one(values: set[Any], code_uri: str, what: str) -> Any:
    if len(values) != 1 or None in values or "None" in values:
        found = ", ".join(sorted(str(value) for value in values))
        raise TemplateConventionError(f"the functions of {code_uri} must share one {what} (found: {found})")
    return next(iter(values))


def url_parameter(api: str, template: Path = TEMPLATE) -> str | None:
    """The `<ApiLogicalId>Url` parameter that overrides where other services reach `api`, if the template has one."""
    name = f"{api}Url"
    return name if name in load(template).get("Parameters", {}) else None


def apis(template: Path = TEMPLATE) -> list[tuple[str, Service, str | None]]:
    """Each API of a service: (logical id, its service, its `<ApiLogicalId>Url` parameter or None)."""
    return [(service.api, service, url_parameter(service.api, template)) for service in services(template) if service.api]


def variables_referencing(parameter: str, template: Path = TEMPLATE) -> list[str]:
    """The functions' environment variables whose value refers to `parameter` (by Ref, anywhere inside)."""
    found: list[str] = []
    for resource in load(template)["Resources"].values():
        if resource["Type"] == FUNCTION:
            for variable, value in resource["Properties"].get("Environment", {}).get("Variables", {}).items():
                if _refers_to(value, parameter) and variable not in found:
                    found.append(variable)
    return found


def _refers_to(value: Any, parameter: str) -> bool:
    if isinstance(value, dict):
        return value.get("Ref") == parameter or any(_refers_to(each, parameter) for each in value.values())
    if isinstance(value, list):
        return any(_refers_to(each, parameter) for each in value)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("paths", help="code folders and layers")
    commands.add_parser("list", help="the services")
    commands.add_parser("apis", help="the APIs and their URL parameters")
    sam_local = commands.add_parser("sam-local-env", help="the `sam local --env-vars` file")
    sam_local.add_argument("--url", default="http://host.docker.internal:3000", help="where `sam local` serves every API")
    sam_local.add_argument("--region", default="us-east-1", help="the region sam local runs the functions in")
    sam_local.add_argument("--parameter-overrides", nargs="*", default=[], metavar="K=V", help="as sam local is given them")
    args = parser.parse_args(argv)
    template = args.template.resolve()
    try:
        found = services(template)
    except (TemplateConventionError, OSError) as error:
        print(f"services: {error}", file=sys.stderr)
        return 2
    if args.command == "paths":
        for path in [*(service.code for service in found), *layer_paths(template)]:
            print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    elif args.command == "list":
        for service in found:
            print("\t".join([service.name, service.package, str(service.code), service.api or "-", service.secret_name or "-"]))
    elif args.command == "apis":
        for api, service, parameter in apis(template):
            print("\t".join([api, service.name, parameter or "-"]))
    else:
        overrides = dict(override.split("=", 1) for override in args.parameter_overrides)
        print(json.dumps(sam_local_env(template, args.url, args.region, overrides), indent=2))
    return 0


def sam_local_env(template: Path, url: str, region: str, parameter_overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each function's declared variables, resolved as `sam local` resolves them (SAM CLI's own
    providers), with every API URL variable pointing at `url`: `sam local start-api` serves every
    API on one port."""
    from localcloud import samcli  # SAM CLI's internals, pinned and tested in one place

    url_variables = {variable for _, _, parameter in apis(template) if parameter for variable in variables_referencing(parameter, template)}
    stacks = samcli.load_stacks(template, parameter_overrides, region)
    env_vars: dict[str, dict[str, str]] = {}
    for name, function in stacks.functions.items():
        declared = (function.environment or {}).get("Variables", {}) or {}
        resolved = samcli.resolve_environment(function, dict.fromkeys(url_variables & set(declared), url), region)
        env_vars[name] = {variable: resolved[variable] for variable in declared}
    return env_vars


if __name__ == "__main__":
    sys.exit(main())
