"""`make deploy` pins every function's `live` alias to what it deploys (localstack/publish_versions.py),
checked with SAM's own transform: which `AWS::Lambda::Version` CloudFormation would create."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.translator.transform import transform

from bookstore_dev import template
from localcloud import template as cloud_template

PUBLISH = template.ROOT / "localstack" / "publish_versions.py"


class NoManagedPolicies:
    """The template names SAM policy templates only, no managed policy to look up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A build directory as `sam build` leaves it: the template, and each function's code."""
    document = json.loads(json.dumps(template.load()))  # plain dicts, as `sam build` writes them
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            code = tmp_path / resource["Properties"]["CodeUri"]
            code.mkdir(parents=True, exist_ok=True)
            (code / "handler.py").write_text("def handler(event, context): ...\n")
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


def deploy(build: Path, *parameters: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Pins as make deploy does, then translates as CloudFormation would: the resources created."""
    result = subprocess.run([sys.executable, str(PUBLISH), str(build), *parameters], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load((build / "template.yaml").read_text())
    for resource in document["Resources"].values():  # as `sam deploy` uploads them
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{resource['Properties']['CodeUri'].strip('/')}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://artifacts/layer.zip"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    values = dict(parameter.split("=", 1) for parameter in parameters)
    resources: dict[str, Any] = transform(document, values, NoManagedPolicies())["Resources"]
    return resources


def versions(resources: dict[str, Any]) -> set[str]:
    return {name for name, resource in resources.items() if resource["Type"] == "AWS::Lambda::Version"}


def test_a_deploy_that_changes_only_a_parameter_value_publishes_new_versions(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployed stack
    first = versions(deploy(build, "TelemetryExport=extension", monkeypatch=monkeypatch))
    # When the next deploy changes a parameter value and nothing else
    second = versions(deploy(build, "TelemetryExport=flush", monkeypatch=monkeypatch))
    # Then every function gets a new version (SAM alone would keep the old one, with the old variables)
    assert first
    assert len(second) == len(first)
    assert first.isdisjoint(second)


def test_the_same_deploy_twice_publishes_nothing_new(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch)) == versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch))


def test_a_code_change_publishes_a_new_version_of_that_code_only(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployed stack
    before = versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch))
    # When one service's code changes
    (build / "functions" / "payments" / "handler.py").write_text("def handler(event, context): return 1\n")
    after = versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch))
    # Then its functions get new versions, and the others keep theirs
    changed = {name.split("Version")[0] for name in after - before}
    payments = {
        name
        for name, resource in template.load()["Resources"].items()
        if resource.get("Properties", {}).get("CodeUri") == "functions/payments/"
    }
    assert changed == payments != set()


def test_provisioned_concurrency_applies_to_the_alias_that_api_gateway_and_the_schedules_invoke(
    build: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the stack is translated
    resources = deploy(build, "ProvisionedConcurrency=1", monkeypatch=monkeypatch)
    aliases = {name: resource for name, resource in resources.items() if resource["Type"] == "AWS::Lambda::Alias"}
    # Then each function's `live` alias carries the template's provisioned concurrency (CloudFormation
    # evaluates its condition: none with the default 0)
    functions = [name for name, resource in resources.items() if resource["Type"] == "AWS::Lambda::Function"]
    written = template.load()["Globals"]["Function"]["ProvisionedConcurrencyConfig"]
    assert len(aliases) == len(functions)
    assert all(alias["Properties"]["Name"] == "live" for alias in aliases.values())
    assert all(alias["Properties"]["ProvisionedConcurrencyConfig"] == written for alias in aliases.values())
    # And what invokes the functions invokes the alias (else the provisioned environments would idle)
    permissions = [
        resource["Properties"]["FunctionName"] for resource in resources.values() if resource["Type"] == "AWS::Lambda::Permission"
    ]
    assert permissions
    assert all(isinstance(permission, dict) and permission.get("Ref") in aliases for permission in permissions)


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("2", 2)])
def test_the_local_cloud_provisions_what_the_parameter_says(value: str, expected: int) -> None:
    provisioned = cloud_template.load(template.TEMPLATE, {"ProvisionedConcurrency": value}).provisioned_concurrency
    functions = [name for name, resource in template.load()["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"]
    assert provisioned == ({name: expected for name in functions} if expected else {})


def test_a_new_shared_layer_publishes_a_new_version_of_every_function(build: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a deployed stack
    before = versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch))
    # When only the shared layer's code changes
    layer = build / template.load()["Resources"]["SharedLayer"]["Properties"]["ContentUri"] / "python"
    layer.mkdir(parents=True)
    (layer / "shared.py").write_text("VALUE = 2\n")
    after = versions(deploy(build, "Stage=dev", monkeypatch=monkeypatch))
    # Then every function gets a new version (SAM's own hash ignores layers)
    assert before.isdisjoint(after)
    assert len(after) == len(before)
