"""The parts of `make sam-local` and `make parity` that decide something without Docker: when the
stand-in image is rebuilt, what sam local runs with, what a machine without an engine is told,
and which rows of the parity table must agree."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import pytest

from bookstore_dev import parity
from localcloud import packaging
from localcloud.docker import engine as engines
from localcloud.docker import lambda_image
from localcloud.errors import LocalCloudError
from localcloud.sam_local import SAM_ENVIRONMENT, SamLocal


def test_the_stand_in_is_rebuilt_only_when_its_inputs_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the runtime lock the stand-in installs, copied
    lock = tmp_path / "runtime-requirements.txt"
    shutil.copy(packaging.RUNTIME_REQUIREMENTS, lock)
    monkeypatch.setattr(packaging, "RUNTIME_REQUIREMENTS", lock)
    before = lambda_image.inputs_digest()
    # Then the label it carries is the same as long as nothing changes
    assert lambda_image.inputs_digest() == before
    # And another pin is another image
    lock.write_text(lock.read_text().replace("boto3==", "boto3===", 1))
    assert lambda_image.inputs_digest() != before


@pytest.mark.parametrize(
    ("labels", "pulls", "expected", "built"),
    [
        (None, True, "official", False),  # none here, the registry answers: the official image
        ({"maintainer": "AWS"}, False, "official", False),  # one without our label (pulled, loaded): used as it is
        ("current", False, "stand-in", False),  # our stand-in of these inputs: kept, no pull
        ("stale", False, "stand-in", True),  # of other inputs, no registry: built again
        (None, False, "stand-in", True),  # none, no registry: built
    ],
)
def test_the_image_is_the_official_one_when_it_can_be_had_else_the_stand_in_of_these_inputs(
    monkeypatch: pytest.MonkeyPatch, labels: object, pulls: bool, expected: str, built: bool
) -> None:
    digest = lambda_image.inputs_digest()
    found = {"current": {lambda_image.INPUTS_LABEL: digest}, "stale": {lambda_image.INPUTS_LABEL: "0" * 64}}.get(str(labels), labels)
    calls: list[str] = []
    monkeypatch.setattr(lambda_image, "_labels", lambda engine: found)

    def pulled(engine: engines.Engine) -> bool:
        calls.append("pull")
        return pulls

    monkeypatch.setattr(lambda_image, "_pulled", pulled)
    monkeypatch.setattr(lambda_image, "build", lambda engine, work_dir, inputs: calls.append(f"build {inputs == digest}"))
    monkeypatch.setattr(lambda_image, "_remove_derived_images", lambda engine: calls.append("remove derived"))
    # When make sam-local makes sure of the image
    kind = lambda_image.ensure(engines.Engine("unix:///nowhere.sock", owned=True), Path("/nowhere"), print)
    # Then it is the one expected, built only when needed (and then SAM's images of the old base go)
    assert kind == expected
    assert ("build True" in calls) == built
    assert ("remove derived" in calls) == (built or (pulls and "pull" in calls))
    if labels == "current":
        assert "pull" not in calls


def test_the_stand_in_leaves_out_what_a_lambda_runtime_does_not_ship() -> None:
    names = ["os.py", "test", "tkinter", "idlelib", "site-packages", "config-3.12-x86_64-linux-gnu", "json", "lib-dynload"]
    assert lambda_image._left_out("/x/lib/python3.12", names) == {
        "test",
        "tkinter",
        "idlelib",
        "site-packages",
        "config-3.12-x86_64-linux-gnu",
    }
    assert lambda_image._left_out("/x/lib", ["libpython3.12.a", "libpython3.12.so.1.0", "pkgconfig"]) == {"libpython3.12.a", "pkgconfig"}


def test_sam_local_runs_with_test_credentials_never_the_shells(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shell with someone's real AWS identity and a Docker context
    for name, value in {"AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t0ken", "AWS_REGION": "sa-east-1", "DOCKER_CONTEXT": "remote"}.items():
        monkeypatch.setenv(name, value)
    runner = SamLocal(argparse.Namespace())
    runner.engine = engines.Engine("unix:///tmp/bookstore-docker.sock", owned=True)
    # When sam local's environment is made
    environment = runner._sam_environment()
    # Then none of the shell's AWS settings is in it, only the fixed ones, and the engine is ours
    aws = {name: value for name, value in environment.items() if name.startswith("AWS_")}
    assert aws == {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    assert environment["DOCKER_HOST"] == "unix:///tmp/bookstore-docker.sock"
    assert "DOCKER_CONTEXT" not in environment
    assert set(SAM_ENVIRONMENT) <= set(environment)


def test_a_machine_where_no_engine_answers_and_none_can_be_started_is_told_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engines, "answers", lambda host: False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # not root
    with pytest.raises(LocalCloudError, match="Start one \\(Docker Desktop, Colima, Rancher Desktop, or dockerd\\)"):
        engines.find_or_start(tmp_path, print)


def test_a_docker_host_that_does_not_answer_is_named_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    monkeypatch.setattr(engines, "answers", lambda host: False)
    with pytest.raises(LocalCloudError, match=re.escape("DOCKER_HOST=tcp://127.0.0.1:9 does not answer")):
        engines.find_or_start(tmp_path, print)


def run(cloud: str, **statuses: int) -> parity.Run:
    chain = ["GET /livros/{id}", "POST /livros/{id}/reservas", "POST /ordens", "POST /pagamentos"]
    steps = []
    for name in (*parity.CONTRACT_STEPS, parity.ANONYMOUS):
        status = statuses.get(name.replace(" ", "_"), 200)
        servers = chain if "order" in name else ["GET /livros"]
        steps.append(parity.Step(name, status, 1.0, servers, dict.fromkeys(servers, name != "warm order"), 4 if name == "order" else 0))
    return parity.Run(cloud, steps, iam_enforced=statuses.get("anonymous_internal_call") == 403, started_s=1.0)


def test_the_parity_contract_is_the_statuses_and_spans_not_the_doors_or_the_warmth() -> None:
    # Given two clouds that differ only in AWS_IAM (the anonymous call) and a warm order's environments
    enforcing, unguarded = run("local cloud", anonymous_internal_call=403), run("sam local", anonymous_internal_call=201)
    unguarded.steps[2].coldstart = dict.fromkeys(unguarded.steps[2].coldstart, True)
    # Then their contract rows agree
    assert parity.disagreements({"a": parity.contract(enforcing), "b": parity.contract(unguarded)}) == []
    # And a status that differs is a disagreement, named by its step
    declined = run("LocalStack", declined_card=502)
    assert parity.disagreements({"a": parity.contract(enforcing), "c": parity.contract(declined)}) == ["declined card: status"]
    # And the table says which cloud enforces IAM
    assert "| IAM | AWS_IAM enforced | yes | **no** |" in parity.table([enforcing, unguarded])
