"""template.yaml as data, read the way SAM reads it (its own YAML loader, CloudFormation tags
included), so the tests and tools derive routes, handlers and names from the template itself
instead of repeating them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from localcloud.samcli import parse_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@dataclass(frozen=True)
class Route:
    function: str  # logical id
    method: str  # upper case
    path: str  # API Gateway resource path, e.g. /livros/{id}
    code_uri: Path
    handler: str  # module.function


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    document: dict[str, Any] = parse_template(path.read_text())
    return document


def routes(template: Path = TEMPLATE) -> list[Route]:
    found = []
    for logical_id, resource in load(template)["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        for event in properties.get("Events", {}).values():
            if event["Type"] == "Api":
                found.append(
                    Route(
                        function=logical_id,
                        method=event["Properties"]["Method"].upper(),
                        path=event["Properties"]["Path"],
                        code_uri=template.parent / properties["CodeUri"],
                        handler=properties["Handler"],
                    )
                )
    return found


def layer_paths(template: Path = TEMPLATE) -> list[Path]:
    """Where each layer's Python code lives in the repository (what Lambda mounts as /opt/python)."""
    return [
        (template.parent / resource["Properties"]["ContentUri"]).resolve()
        for resource in load(template)["Resources"].values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    ]


def function_environment(logical_id: str, template: Path = TEMPLATE) -> dict[str, Any]:
    """The function's own environment variables (not Globals), intrinsics left unresolved."""
    variables: dict[str, Any] = load(template)["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
    return variables
