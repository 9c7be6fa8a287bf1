"""Walking JSON documents (table rows, log lines, telemetry files) in the personal-data checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pairs(document: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield key, value
            yield from pairs(value)
    elif isinstance(document, list):
        for item in document:
            yield from pairs(item)
