"""The faults a class turns on: the feature flags file `make run` gives the functions, how the local cloud
changes it, its platform faults, and `make exercise`'s picks."""

from __future__ import annotations

import ast
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bookstore_dev import exercise
from bookstore_dev.services import services
from bookstore_dev.startup import FLAGS
from bookstore_dev.template import ROOT, TEMPLATE, load
from localcloud import platform_faults
from localcloud import template as cloud_template
from localcloud.apigateway import ApiGateway
from localcloud.environment import InvocationReport, Outcome
from localcloud.errors import Conflict, LocalCloudError, NotFound, Unavailable
from localcloud.flags import FlagsFile

READERS = {"happens", "enabled", "seconds", "probability", "delay", "leak"}


def flags_in_code() -> set[str]:
    """Every flag name the functions and the layer evaluate: `flags.<reader>("name")` calls and
    `unreachable_flag="name"` arguments, read from the source."""
    folders = {ROOT / "layers" / "shared"} | {ROOT / service.code for service in services()}
    found = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                function, first = node.func, node.args[0] if node.args else None
                if isinstance(function, ast.Attribute) and function.attr in READERS and isinstance(first, ast.Constant):
                    found.add(str(first.value))
                found |= {str(k.value.value) for k in node.keywords if k.arg == "unreachable_flag" and isinstance(k.value, ast.Constant)}
    return found


def test_the_file_defines_exactly_the_flags_the_code_evaluates_each_off_by_default() -> None:
    flags = json.loads(FLAGS.read_text())["flags"]
    assert set(flags) == flags_in_code()
    for name, flag in flags.items():
        assert flag["state"] == "ENABLED", name
        assert flag["defaultVariant"] == "off", name
        assert flag["variants"]["off"] in (0, False, {"delay_ms": 0, "jitter_ms": 0}), name
        assert flag["metadata"]["description"], name


@pytest.fixture
def flags_file(tmp_path: Path) -> FlagsFile:
    return FlagsFile(FLAGS, tmp_path / "state" / "flags.flagd.json")


def live_variant(flags_file: FlagsFile, name: str) -> str:
    variant: str = json.loads(flags_file.live.read_text())["flags"][name]["defaultVariant"]
    return variant


def test_setting_a_flag_rewrites_the_live_copy_only(flags_file: FlagsFile) -> None:
    source = FLAGS.read_text()
    described = flags_file.set("paymentFailure=50%")
    assert described["paymentFailure"]["variant"] == "50%"
    assert described["paymentFailure"]["changed"] is True
    assert live_variant(flags_file, "paymentFailure") == "50%"
    assert FLAGS.read_text() == source
    assert not list(flags_file.live.parent.glob("*.partial"))


def test_flags_off_puts_back_the_source_variants(flags_file: FlagsFile) -> None:
    flags_file.set("paymentUnreachable=on")
    flags_file.set("slowQuery=2s")
    described = flags_file.reset()
    assert {name: flag["changed"] for name, flag in described.items()} == dict.fromkeys(described, False)
    assert live_variant(flags_file, "slowQuery") == "off"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("paymentFailur=50%", "no flag 'paymentFailur'; the flags are catalogueSlow, memoryLeak, paymentFailure"),
        ("paymentFailure=60%", "paymentFailure has no variant '60%'; its variants are off, 10%, 25%"),
        ("paymentFailure", "expected flag=variant"),
    ],
)
def test_a_wrong_flag_or_variant_is_refused_naming_the_choices_and_changes_nothing(
    flags_file: FlagsFile, assignment: str, message: str
) -> None:
    before = flags_file.live.read_text()
    with pytest.raises(LocalCloudError, match=re.escape(message)):
        flags_file.set(assignment)
    assert flags_file.live.read_text() == before


def test_a_file_not_in_flagds_format_is_refused_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"flags": {"x": {"variants": {"on": True}}}}))
    with pytest.raises(LocalCloudError, match="not flagd's format"):
        FlagsFile(broken, tmp_path / "live.json")


FUNCTIONS = {"CriarPagamentoFunction", "ObterLivroFunction"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("CriarPagamentoFunction:delay=2000@50", "CriarPagamentoFunction:delay=2000@50"),
        ("ObterLivroFunction:error", "ObterLivroFunction:error@100"),
        ("*:cold@10", "*:cold@10"),
        ("ObterLivroFunction:throttle=2", "ObterLivroFunction:throttle=2"),
        ("receiver:slow=1500", "receiver:slow=1500"),
    ],
)
def test_a_platform_fault_reads_as_target_kind_value_and_share(spec: str, expected: str) -> None:
    assert str(platform_faults.parse(spec, FUNCTIONS)) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Nope:delay=1", "no function 'Nope'"),
        ("ObterLivroFunction:melt", "ObterLivroFunction takes cold, delay, error, response, throttle, timeout, not 'melt'"),
        ("ObterLivroFunction:delay", "delay needs =VALUE"),
        ("ObterLivroFunction:error=3", "error takes no =VALUE"),
        ("ObterLivroFunction:response=42", "response=STATUS takes an HTTP status"),
        ("ObterLivroFunction:delay=1@101", "@PERCENT is 0 to 100"),
        ("ObterLivroFunction:delay=60001", "delay=MS takes at most 60000 ms"),
        ("receiver:slow=99999999999999999999", "expected TARGET:KIND"),
        ("ObterLivroFunction:error@١٠", "expected TARGET:KIND"),
        ("receiver:cold", "receiver takes down, slow"),
        ("delay everything", "expected TARGET:KIND"),
    ],
)
def test_a_wrong_platform_fault_is_refused_saying_why(spec: str, message: str) -> None:
    with pytest.raises(LocalCloudError, match=re.escape(message)):
        platform_faults.parse(spec, FUNCTIONS)


def test_an_exercise_picks_the_same_faults_for_the_same_seed_and_different_ones_in_a_run() -> None:
    assert exercise.pick(7, 3) == exercise.pick(7, 3)
    assert len(set(exercise.pick(7, 5))) == 5
    assert exercise.pick(7, 5) != exercise.pick(8, 5)


def test_every_fault_an_exercise_may_pick_is_one_the_cloud_takes(tmp_path: Path) -> None:
    flags_file = FlagsFile(FLAGS, tmp_path / "flags.flagd.json")
    functions = {name for name, resource in load()["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"}
    kinds = set()
    for fault in exercise.catalogue():
        kind, argument = fault.command.split("/", 1)
        kinds.add(kind)
        if kind == "flag":
            flags_file.set(argument)
        else:
            platform_faults.parse(argument, functions)
    assert kinds == {"flag", "fault"}


def test_a_flag_only_the_live_copy_has_is_shown_as_changed(flags_file: FlagsFile) -> None:
    document = json.loads(flags_file.live.read_text())
    document["flags"]["extraFlag"] = {"state": "ENABLED", "variants": {"on": True}, "defaultVariant": "on"}
    flags_file.live.write_text(json.dumps(document))
    assert flags_file.describe()["extraFlag"]["changed"] is True
    assert flags_file.set("paymentSlow=1s")["paymentSlow"]["variant"] == "1s"


def test_faults_off_releases_an_invocation_a_delay_still_holds() -> None:
    # Given an invocation held by a one-minute delay
    faults = platform_faults.PlatformFaults({}, lambda line: None)
    faults.add("*:delay=60000@100")
    held, answered = threading.Event(), []
    report = InvocationReport("r", Outcome.RESPONSE, b"{}", 1.0, None, 0)

    def invoke(hold: Callable[[], object] | None) -> InvocationReport:
        held.set()
        assert hold is not None
        hold()
        return report

    invocation = threading.Thread(target=lambda: answered.append(faults.invoke("ListarLivrosFunction", invoke)))
    invocation.start()
    assert held.wait(5)
    # When the faults go off, Then it goes on at once, not a minute later
    faults.clear()
    invocation.join(5)
    assert answered == [report]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (LocalCloudError("expected TARGET:KIND"), 400),
        (NotFound("no single schedule named 'x'"), 404),
        (Conflict("this cloud was started without --flags"), 409),
        (Unavailable("the OTLP receiver did not take its faults"), 503),
    ],
)
def test_a_control_route_answers_what_went_wrong_with_its_status_and_message(error: LocalCloudError, status: int) -> None:
    # Given the gateway of the template, whose control action fails
    def fails(argument: str) -> dict[str, object]:
        raise error

    api = cloud_template.load(TEMPLATE, {}).api
    never_invoked = lambda function, event: pytest.fail(f"{function} invoked")  # noqa: E731 - the gateway needs a runner
    gateway = ApiGateway(api, never_invoked, {"fault": fails}).test_client()
    # When the operator calls it
    response = gateway.post("/_localcloud/fault/x")
    # Then the answer's status says which kind of failure, and its message the cause
    assert (response.status_code, response.get_json()) == (status, {"message": str(error)})
