"""How Bookstore's own tools (the demo, the benchmark, `make livro`) call its closed routes: signed
as the local cloud's admin, with the same SigV4 signer the functions use (the shared layer's,
made importable here as Lambda makes a layer importable, from the template's list of layers)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bookstore_dev.template import layer_paths

for _layer in reversed(layer_paths()):
    if str(_layer) not in sys.path:
        sys.path.insert(0, str(_layer))

from bookstore_shared.http_client import SigV4  # noqa: E402 - importable once the layer is on the path

if TYPE_CHECKING:
    import httpx

DEFAULT_CREDENTIALS = Path(".local/admin-credentials")


def admin_auth(credentials: Path = DEFAULT_CREDENTIALS, profile: str | None = None) -> httpx.Auth:
    """Signs as the admin identity in `credentials` (RuntimeError when there is none)."""
    return SigV4.from_profile(credentials, profile)


def any_signature(region: str) -> httpx.Auth:
    """A valid SigV4 signature of made-up credentials: what a cloud that checks no IAM accepts."""
    from botocore.credentials import Credentials

    return SigV4(region, Credentials("local", "local"))
