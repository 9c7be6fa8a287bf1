"""Makes each function's `live` alias follow what `make deploy` deploys, parameter values included.

The template's `AutoPublishAlias` publishes a new version only when SAM's hash of the function
changes, and SAM hashes the code and the properties *as written*: a deploy that changes only a
parameter value (`TelemetryExport=flush`, another endpoint) publishes nothing, and the alias keeps
serving the old version with the old variables. `AutoPublishCodeSha256` replaces that hash; this
sets it, in the built template only, to a digest of the function's built code, of its layers and
of the parameter values of this deploy, so a version is published exactly when one
of them changed.

    python localstack/publish_versions.py BUILD_DIR Name=Value ...   (BUILD_DIR/template.yaml from `sam build`)
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml
from inline_layers import function_layers  # beside this script (run as `python localstack/publish_versions.py`)


def digest(folders: list[Path], parameters: list[str]) -> str:
    """SHA-256 of every file under `folders` (path and content) and of the parameter values."""
    sha = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            sha.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    for parameter in sorted(parameters):
        sha.update(parameter.encode() + b"\0")
    return sha.hexdigest()


def pin(build: Path, parameters: list[str]) -> dict[str, str]:
    """Set every function's AutoPublishCodeSha256; return function -> digest."""
    template_path = build / "template.yaml"
    document: dict[str, Any] = yaml.safe_load(template_path.read_text())
    pinned = {}
    for name, layers in function_layers(build, document).items():
        properties = document["Resources"][name]["Properties"]
        # Its layers too: SAM's own hash ignores them (on AWS a new layer alone would publish nothing).
        folders = [build / properties["CodeUri"], *layers.values()]
        pinned[name] = properties["AutoPublishCodeSha256"] = digest(folders, parameters)
    template_path.write_text(yaml.safe_dump(document, sort_keys=False))
    return pinned


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    pin(Path(argv[0]), argv[1:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
