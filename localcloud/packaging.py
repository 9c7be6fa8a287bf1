"""What an environment may import, laid out as Lambda lays it out, and nothing from the
development environment: the function's code (/var/task), each layer (/opt/python: its code and
the packages its requirements declare, installed as `sam build` would), and the runtime client
(/var/runtime). A requirement missing from a requirements file fails here as it would on AWS."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from localcloud.errors import LocalCloudError

HERE = Path(__file__).resolve().parent
RUNTIME_REQUIREMENTS = HERE / "runtime-requirements.txt"


def runtime_python() -> str:
    """The interpreter the environments run: the base Python 3.12 of this venv, which `-S` keeps
    free of any site-packages (the functions must not see the development environment's)."""
    base = getattr(sys, "_base_executable", sys.executable)
    if sys.version_info[:2] != (3, 12):
        print(f"warning: the functions target python3.12; environments run {sys.version.split()[0]}", file=sys.stderr)
    return base


def install(requirements: Path, target: Path, *, hashed: bool = False) -> Path:
    """Installs `requirements` into `target` once; again only when the file changes."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    marker = target / ".requirements.sha256"
    if marker.exists() and marker.read_text() == digest:
        return target
    if not has_requirements(requirements):
        target.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest)
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    print(f"local cloud: installing {requirements} for the environments (once)…", flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += ["--target", str(target), "-r", str(requirements)]
    if hashed:
        command.append("--require-hashes")
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - pip, our files
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise LocalCloudError(f"cannot install {requirements}: {last}")
    marker.write_text(digest)
    return target


def has_requirements(requirements: Path) -> bool:
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines())
    return any(lines)


def extensions(layer: Path) -> list[Path]:
    """A layer's external extensions: the executables in its `extensions/` folder (on AWS,
    /opt/extensions, where Lambda starts each one before the runtime)."""
    folder = layer / "extensions"
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.is_file() and os.access(path, os.X_OK))
