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

    python -m bookstore_dev.services [--template T] paths     code folders and layers, one per line
    python -m bookstore_dev.services [--template T] list      one service per line, tab-separated
"""

from __future__ import annotations

import argparse
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


def services(template: Path = TEMPLATE) -> list[Service]:
    """Every service of the template, in the order their first function appears."""
    document = load(template)
    root = template.parent
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] == FUNCTION:
            code_uri = str(resource["Properties"]["CodeUri"]).rstrip("/")
            groups.setdefault(code_uri, []).append((logical_id, resource["Properties"]))
    return [_service(document, root, code_uri, functions) for code_uri, functions in groups.items()]


def databases(template: Path = TEMPLATE) -> list[Service]:
    """The services that keep data, each in a database of its own."""
    return [service for service in services(template) if service.database]


def _service(document: dict[str, Any], root: Path, code_uri: str, functions: list[tuple[str, dict[str, Any]]]) -> Service:
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
    secret_parameters = {_ref(each.get(secret_variable)) for each in variables}
    secret_parameter = _one(secret_parameters, code_uri, secret_variable) if secret_parameters != {None} else None
    secret_name = None
    if secret_parameter is not None:
        parameter = document.get("Parameters", {}).get(secret_parameter)
        if parameter is None or "Default" not in parameter:
            raise TemplateConventionError(f"{code_uri}: {secret_variable} must !Ref a parameter with a Default (the secret's name)")
        secret_name = str(parameter["Default"])
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("command", choices=["paths", "list"])
    args = parser.parse_args(argv)
    found = services(args.template.resolve())
    if args.command == "paths":
        for path in [*(service.code for service in found), *layer_paths(args.template.resolve())]:
            print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    else:
        for service in found:
            print("\t".join([service.name, service.package, str(service.code), service.api or "-", service.secret_name or "-"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
