"""Feature flags for the functions, as the OpenTelemetry Demo serves them with flagd: a flag-definition
file (flagd's JSON format) that the functions read in-process and watch (OpenFeature's flagd provider,
`FLAGD_OFFLINE_FLAG_SOURCE_PATH`). The cloud keeps a live copy of the file it was given in its state
directory, starting from the given file's variants on every start; `set` and `reset` rewrite that copy
(whole, by rename: a reader never sees half a file), and warm environments see the change within the
provider's poll (500 ms) of running.

    python -m localcloud --flags flags/bookstore.flagd.json      serve, with those flags
    python -m localcloud flags                                   each flag, its variant and the others
    python -m localcloud flag paymentFailure=50%                 one flag to one of its variants
    python -m localcloud flags-off                               every flag back to the given file's variant
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from localcloud.errors import LocalCloudError, Unavailable

ENVIRONMENT_VARIABLE = "FLAGD_OFFLINE_FLAG_SOURCE_PATH"


class FlagsFile:
    def __init__(self, source: Path, live: Path) -> None:
        self.source, self.live = source, live
        self._lock = threading.Lock()
        self._defaults = _flags(_read(source), source)
        self.reset()

    def reset(self) -> dict[str, Any]:
        """Every flag to its variant in the source file."""
        with self._lock:
            document = _read(self.source)
            _write(self.live, document)
        return self.describe()

    def set(self, assignment: str) -> dict[str, Any]:
        """`name=variant`: the flag's default variant becomes that one."""
        name, separator, variant = assignment.partition("=")
        if not separator:
            raise LocalCloudError(f"expected flag=variant, not {assignment!r}")
        with self._lock:
            document = _read(self.live)
            flags = _flags(document, self.live)
            if name not in flags:
                raise LocalCloudError(f"no flag {name!r}; the flags are {', '.join(sorted(flags))}")
            if variant not in flags[name]["variants"]:
                raise LocalCloudError(f"{name} has no variant {variant!r}; its variants are {', '.join(flags[name]['variants'])}")
            flags[name]["defaultVariant"] = variant
            _write(self.live, document)
        return self.describe()

    def describe(self) -> dict[str, Any]:
        """Each flag: its variant now, whether that is the source's, and its variants."""
        flags = _flags(_read(self.live), self.live)
        return {
            name: {
                "variant": flag["defaultVariant"],
                # a flag the source file does not have (the live copy edited by hand) counts as changed
                "changed": flag["defaultVariant"] != self._defaults.get(name, {}).get("defaultVariant"),
                "variants": list(flag["variants"]),
                "description": (flag.get("metadata") or {}).get("description", ""),
            }
            for name, flag in sorted(flags.items())
        }


def _read(path: Path) -> dict[str, Any]:
    try:
        document: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise Unavailable(f"flags file {path}: {error}") from error
    return document


def _flags(document: dict[str, Any], path: Path) -> dict[str, Any]:
    flags = document.get("flags")
    keys = {"variants", "defaultVariant"}
    if not isinstance(flags, dict) or not all(isinstance(flag, dict) and keys <= set(flag) for flag in flags.values()):
        raise Unavailable(f"flags file {path}: not flagd's format (flags: name → variants, defaultVariant)")
    return flags


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    os.replace(partial, path)
