"""Copies each function's layers into the function's own build, for LocalStack's community image.

LocalStack 4.14 community accepts `Layers` on a function but never mounts them into its
containers (layers are a Pro feature): a function whose code is in a layer fails to import, and
every route answers 502 while the deployment reports success. `make deploy` builds the template
into a build directory of its own and runs this on it, so the code a layer holds (`python/`, or
`python/lib/python3.X/site-packages/`) sits next to the function's handler in /var/task, which is
on the Python runtime's path. `sam build` in .aws-sam/build (AWS, `sam local`) is untouched: there
the layer is mounted at /opt as on AWS.

    python localstack/inline_layers.py BUILD_DIR     (BUILD_DIR/template.yaml from `sam build`)

It reads the built template only (`sam build` writes it in long form: `{"Ref": "X"}`), so it
names no function and no layer.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"


def layer_python_dirs(layer: Path) -> list[Path]:
    """Where the Python runtime finds a layer's modules, as folders of the layer's content."""
    python = layer / "python"
    site_packages = sorted(python.glob("lib/python3.*/site-packages"))
    return [python, *site_packages] if python.is_dir() else site_packages


def inline(build: Path) -> dict[str, list[str]]:
    """Copy every function's layers into its folder; return function -> the layers copied."""
    document: dict[str, Any] = yaml.safe_load((build / "template.yaml").read_text())
    resources: dict[str, Any] = document["Resources"]
    global_layers = ((document.get("Globals") or {}).get("Function") or {}).get("Layers", [])
    inlined: dict[str, list[str]] = {}
    for name, resource in resources.items():
        if resource["Type"] != FUNCTION:
            continue
        properties = resource.get("Properties") or {}
        code = build / properties["CodeUri"]
        for reference in [*global_layers, *properties.get("Layers", [])]:
            layer_id = reference.get("Ref") if isinstance(reference, dict) else None
            if layer_id is None or resources.get(layer_id, {}).get("Type") != LAYER:
                # An ARN of a layer outside this template: nothing here to copy, and it would not load.
                raise SystemExit(f"inline_layers: {name} uses a layer this template does not build: {reference}")
            content = build / resources[layer_id]["Properties"]["ContentUri"]
            folders = layer_python_dirs(content)
            if not folders:
                raise SystemExit(f"inline_layers: {layer_id} ({content}) has no python/ folder")
            for folder in folders:
                for entry in folder.iterdir():
                    if entry.name == "lib" and folder.name == "python":
                        continue  # python/lib/python3.X/site-packages: copied as a folder of its own
                    target = code / entry.name
                    if target.exists():
                        # The function's own module wins, as it would on AWS (/var/task before /opt).
                        continue
                    if entry.is_dir():
                        shutil.copytree(entry, target)
                    else:
                        shutil.copy2(entry, target)
            inlined.setdefault(name, []).append(layer_id)
    return inlined


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    for function, layers in inline(Path(argv[0])).items():
        print(f"  {function}: {', '.join(layers)} copied into its package (LocalStack community mounts no layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
