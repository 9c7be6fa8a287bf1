"""The local cloud is a generic SAM local cloud: it imports nothing of Bookstore, which hands it
its start-up instead (bookstore_dev.startup)."""

from __future__ import annotations

import ast

from bookstore_dev.services import services
from bookstore_dev.template import ROOT, layer_paths

# Bookstore's tooling, its tests, its layers' packages and every service's package.
APPLICATION_PACKAGES = {
    "bookstore_dev",
    "tests",
    *(package.name for layer in layer_paths() for package in layer.iterdir() if (package / "__init__.py").exists()),
    *(service.package for service in services()),
}


def test_the_local_cloud_imports_nothing_of_bookstore() -> None:
    # Given every module of the local cloud
    modules = sorted((ROOT / "localcloud").rglob("*.py"))
    assert modules
    # When their imports are read
    imported = {
        (module.name, name.split(".")[0])
        for module in modules
        for node in ast.walk(ast.parse(module.read_text()))
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }
    # Then none is of the application, and no file names Bookstore's tooling
    assert {pair for pair in imported if pair[1] in APPLICATION_PACKAGES} == set()
    assert [module.name for module in modules if "bookstore_dev" in module.read_text()] == []
