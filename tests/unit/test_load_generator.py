"""`make load`'s pieces that need no Locust (it is never imported here: gevent would patch this
process): which targets it accepts, the refusal of the others, and the summary it prints from
Locust's files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bookstore_dev.load import common
from bookstore_dev.load.__main__ import main
from bookstore_dev.load.summary import render


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://127.1.2.3:3000", True),
        ("http://localhost:3000", True),
        ("http://[::1]:3000", True),
        ("https://127.0.0.1", True),
        ("http://10.0.0.5:3000", False),
        ("http://192.168.1.10", False),
        ("http://example.com", False),
        ("http://localhost.example.com", False),
        ("ftp://127.0.0.1", False),
        ("127.0.0.1:3000", False),
    ],
)
def test_only_a_url_on_this_machine_is_a_target(url: str, loopback: bool) -> None:
    assert common.is_loopback(url) is loopback


def test_another_host_is_refused_in_one_line_before_locust_starts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a host off this machine, When the generator is asked to load it
    code = main(["--host", "http://10.1.2.3:3000", "--out", str(tmp_path)])
    # Then it refuses in one line, and no Locust ran (it would have written its statistics)
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "refusing 'http://10.1.2.3:3000'" in err
    assert list(tmp_path.iterdir()) == []


STATS = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,\
Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,/livros/{id},10,0,7,8,5,20,87,2.5,0.0,7,8,9,9,12,15,20,20,20,20,20
POST,/ordens,6,1,40,50,30,700,200,1.5,0.25,40,45,50,55,60,700,700,700,700,700,700
,Aggregated,16,1,9,30,5,700,130,4.0,0.25,9,20,40,45,50,60,700,700,700,700,700
"""
FAILURES = """Method,Name,Error,Occurrences
POST,/ordens,"CatchResponseError('order, approved card: expected 201 CONCLUIDA , got 504 NAO_CONCLUIDA PAGAMENTO_INDISPONIVEL')",1
"""


def test_the_summary_shows_each_route_its_errors_and_the_slowest_trace(tmp_path: Path) -> None:
    # Given Locust's CSV statistics and the requests log of a run
    (tmp_path / "locust_stats.csv").write_text(STATS)
    (tmp_path / "locust_failures.csv").write_text(FAILURES)
    ids = {"span_id": "1" * 16}
    requests = [
        {"journey": common.VIEW, "route": "GET /livros/{id}", "trace_id": "a" * 32, **ids, "status": 200, "ok": True, "ms": 7.0},
        {"journey": common.ORDER_APPROVED, "route": "POST /ordens", "trace_id": "b" * 32, **ids, "status": 504, "ok": False, "ms": 700.2},
    ]
    (tmp_path / common.REQUESTS_LOG).write_text("".join(json.dumps(request) + "\n" for request in requests))
    # When it is summarised
    summary = render(tmp_path)
    # Then each route has its requests, failures, rate and percentiles, and so do all of them
    assert summary is not None
    lines = summary.splitlines()
    assert "GET /livros/{id}                10         0      2.5       7      15      20" in lines
    assert "POST /ordens                     6         1      1.5      40     700     700" in lines
    assert "all routes                      16         1      4.0       9      60     700" in lines
    # And each journey its unexpected answers; the errors by route; the slowest request's trace
    assert any(line.startswith(common.ORDER_APPROVED) and line.split()[-2:] == ["1", "1"] for line in lines)
    assert any(line.startswith("  POST /ordens: 1× ") and "504" in line for line in lines)
    assert any(line.startswith("slowest: POST /ordens") and "b" * 32 in line for line in lines)


def test_a_run_that_never_started_has_no_summary(tmp_path: Path) -> None:
    (tmp_path / "locust_stats.csv").write_text(STATS.splitlines()[0] + "\n")
    assert render(tmp_path) is None


def test_the_launcher_and_the_summary_leave_locust_and_gevent_out_of_this_process() -> None:
    # Imported above, as `python -m bookstore_dev.load` imports them: Locust only ever runs in its own process
    assert not [name for name in sys.modules if name.split(".")[0] in ("locust", "gevent")]
