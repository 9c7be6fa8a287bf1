"""A new service is its code folder, its migrations and its template entries: nothing else
changes. The throwaway service Entrega (tests/fixtures/new_service) is added to a copy of the
project, and the local cloud gives it a database, a role, a secret and its route."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookstore_dev.services import services
from bookstore_dev.startup import HOOK
from bookstore_dev.template import ROOT, TEMPLATE
from localcloud.process import LocalCloudProcess
from localcloud.samcli import parse_template

NEW_SERVICE = ROOT / "tests" / "fixtures" / "new_service"


@pytest.fixture(scope="module")
def project_with_entrega(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project's functions and layers, with Entrega's folder beside them and its
    entries merged into the template (written as JSON, which is YAML too)."""
    app = tmp_path_factory.mktemp("with-entrega")
    shutil.copytree(ROOT / "functions", app / "functions")
    shutil.copytree(ROOT / "layers", app / "layers")
    shutil.copytree(NEW_SERVICE / "functions" / "deliveries", app / "functions" / "deliveries")
    template = parse_template(TEMPLATE.read_text())
    entries = parse_template((NEW_SERVICE / "template-entries.yaml").read_text())
    for section in ("Parameters", "Resources"):
        template[section].update(entries[section])
    (app / "template.yaml").write_text(json.dumps(template, indent=2))
    return app / "template.yaml"


@pytest.fixture(scope="module")
def cloud(project_with_entrega: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    cloud = LocalCloudProcess(project_with_entrega, tmp_path_factory.mktemp("entrega-state"), "--no-watch", "--startup", HOOK)
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


def test_the_new_service_is_read_from_the_template_by_the_convention(project_with_entrega: Path) -> None:
    # Given the template with Entrega's entries
    # When its services are read
    entrega = next(service for service in services(project_with_entrega) if service.package == "entregas")
    # Then Entrega has every name the convention gives it
    assert (entrega.name, entrega.database, entrega.api, entrega.secret_name) == (
        "entrega",
        "entregas",
        "EntregasApi",
        "bookstore/entregas/db",
    )
    assert entrega.migrations == project_with_entrega.parent / "functions" / "deliveries" / "migrations"


def test_the_new_service_gets_its_database_role_secret_and_route(cloud: LocalCloudProcess) -> None:
    # Given the local cloud started on the project with Entrega, with Bookstore's start-up
    cloud.wait_for("entrega: database entregas, secret bookstore/entregas/db")
    # When its route is called
    response = httpx.get(f"{cloud.url}/entregas", timeout=60)
    # Then its function read its secret and reached its own database, migrated, as its own role
    assert response.status_code == 200, "\n".join(cloud.snapshot()[-15:])
    assert response.json() == {"entregas": 0, "usuario": "entregas", "banco": "entregas"}
    # And the other services are served as before
    assert httpx.get(f"{cloud.url}/livros/1", timeout=60).status_code == 200
