"""`make parity`'s run, as it runs: the same script against the local cloud, LocalStack without
Docker and the real sam local, each started and stopped in turn. The contract is the same on all
three; only what each says it does not emulate may differ (AWS_IAM, on the two that do not enforce it)."""

from __future__ import annotations

import pytest

from bookstore_dev import clouds, parity
from localcloud.docker import engine as engines

pytestmark = pytest.mark.timeout(2400)


def test_the_three_clouds_agree_on_the_contract_and_differ_only_where_the_docs_say() -> None:
    if reason := engines.why_none_can_run():
        pytest.skip(reason)
    # When make parity's script runs against each cloud
    runs = {run.cloud: run for run in parity.run_clouds(list(clouds.CLOUDS))}
    print("\n" + parity.table(list(runs.values())))
    contracts = {name: parity.contract(run) for name, run in runs.items()}
    # Then every contract row agrees
    assert parity.disagreements(contracts) == [], contracts
    # And it is the contract: statuses, SERVER spans by route, cold then warm, the init in the trace
    rows = contracts["local cloud"]
    statuses = {name: rows[f"{name}: status"] for name in parity.CONTRACT_STEPS}
    assert statuses == {
        "cold list": 200,
        "order": 201,
        "warm order": 201,
        "declined card": 402,
        "bad input": 422,
        "signed internal call": 200,
    }
    assert rows["order: SERVER spans"] == sorted(["POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"])
    assert rows["cold list: cold start"] is True
    assert rows["order: every function cold"] is True
    assert rows["order: init spans"] == 4
    # And under sam local, whose one container per function is idle again once it answered, the warm order is warm
    warm = next(step for step in runs["sam local"].steps if step.name == "warm order")
    assert warm.coldstart
    assert not any(warm.coldstart.values())
    # And AWS_IAM is enforced where the docs say it is: only on the local cloud
    assert {name: run.iam_enforced for name, run in runs.items()} == {"local cloud": True, "LocalStack": False, "sam local": False}
