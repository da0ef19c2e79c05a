"""Approve, reject, cancel and replay over HTTP against a real `gitline serve`, with real
tokens: what a user sees on the state branch, and the 403/404/409 answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.lines import GATED_JOB as GATED
from tests.harness.lines import jobs
from tests.harness.wait import wait_for

# the gated deploy of the job-model tests, beside an ungated job and a slow one
LINE = jobs(GATED + """\
- name: paint
  type: runSh
  steps:
    - IN: cfg
    - TASK:
        script: [echo "painting N=$N"]
- name: slow
  type: runSh
  steps:
    - TASK:
        script: [sleep 120]
""")


def add_token(home: Home, name: str, *args: str) -> str:
    return gitline("token", "add", home.path, name, *args).stdout.strip()


def call(base: str, tok: str, path: str, body: dict | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST (or GET without a body) as the token; (status, JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Authorization": "Bearer " + tok, "Content-Type": "application/json",
            **(headers or {})}
    req = urllib.request.Request(base + path, data=data, headers=hdrs,
                                 method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        text = err.read().decode()
        try:
            return err.code, json.loads(text)
        except ValueError:  # the token and request checks answer in plain text
            return err.code, {"error": text}


@pytest.fixture
def line(home: Home):
    toks = {"ada": add_token(home, "ada", "--scope", "read,approve", "--email",
                             "ada@example.com"),
            "bob": add_token(home, "bob"),  # read, push, trigger
            "reader": add_token(home, "reader", "--scope", "read")}
    base = serve(home)
    home.write("shippable.yml", LINE)
    home.push("line")
    wait_for(lambda: "deploy: run 1 pending approval" in home.subjects(), 60, "pending run")
    return base, toks


def test_approve_over_the_api_is_recorded_with_the_token_and_checked(home, line):
    base, toks = line
    # bob's token has no approve scope: refused before anything is committed
    status, body = call(base, toks["bob"], "/api/jobs/deploy/approve", {})
    assert status == 403 and "bob lacks the approve scope" in body["error"]
    status, body = call(base, toks["ada"], "/api/jobs/deplyo/approve", {})
    assert status == 404 and "did you mean 'deploy'" in body["error"]
    status, body = call(base, toks["ada"], "/api/jobs/paint/approve", {})
    assert (status, body["error"]) == (409, "job 'paint' does not require approval")

    status, body = call(base, toks["ada"], "/api/jobs/deploy/approve", {"reason": "ship it"})
    assert status == 202 and body["path"] == "approvals/deploy"
    assert home.git("log", "-1", "--format=%H %an", "main").split() == [body["commit"], "ada"]
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 succeeded"]
    record = home.show("jobs/deploy/run.yml")
    assert "approved by ada <ada@example.com> (token)" in record and "ship it" in record

    status, body = call(base, toks["ada"], "/api/jobs/deploy/approve", {})
    assert (status, body["error"]) == (409, "no run of deploy is pending approval")


def test_reject_over_the_api_cancels_the_pending_run(home, line):
    base, toks = line
    status, _ = call(base, toks["ada"], "/api/jobs/deploy/reject", {"reason": "not today"})
    assert status == 202
    assert home.wait_runs("deploy", 1, timeout=60) == ["run 1 cancelled"]
    record = home.show("jobs/deploy/run.yml")
    assert "rejected by ada <ada@example.com> (token) in" in record and "not today" in record


def test_cancel_stops_a_running_run_and_needs_the_trigger_scope(home, line):
    base, toks = line
    assert call(base, toks["bob"], "/api/jobs/slow/trigger", {})[0] == 202
    wait_for(lambda: "slow: run 1 started" in home.subjects(), 60, "slow running")
    status, body = call(base, toks["reader"], "/api/jobs/slow/cancel", {})
    assert status == 403 and "reader lacks the trigger scope" in body["error"]
    # a page elsewhere posting text/plain with the user's credentials: refused
    status, _ = call(base, toks["bob"], "/api/jobs/slow/cancel", {},
                     headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
    assert status == 403
    assert [r["status"] for r in home.status()["jobs"]["slow"]["active"]] == ["running"]

    # /api/status is kept between changes, and follows each one
    api_status = [call(base, toks["reader"], "/api/status")[1] for _ in range(2)]
    assert api_status[0]["jobs"]["slow"] == api_status[1]["jobs"]["slow"]
    assert [r["status"] for r in api_status[0]["jobs"]["slow"]["active"]] == ["running"]

    status, body = call(base, toks["bob"], "/api/jobs/slow/cancel", {})
    assert status == 200 and body["cancelled"] == [1], body
    assert home.wait_runs("slow", 1, timeout=60) == ["run 1 cancelled"]
    after = call(base, toks["reader"], "/api/status")[1]["jobs"]["slow"]
    assert after["active"] == [] and after["lastRun"]["status"] == "cancelled", after
    status, body = call(base, toks["bob"], "/api/jobs/slwo/trigger", {})
    assert status == 404 and "did you mean 'slow'" in body["error"]
    status, body = call(base, toks["bob"], "/api/jobs/slwo/cancel", {})
    assert status == 404 and "did you mean 'slow'" in body["error"]


def test_replay_queues_a_run_with_the_same_inputs(home, line):
    base, toks = line
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    home.write("shippable.yml", LINE.replace('N: "1"', 'N: "2"'))
    home.push("N=2")
    assert home.wait_runs("paint", 2, timeout=60)[-1] == "run 2 succeeded"

    status, body = call(base, toks["bob"], "/api/jobs/paint/runs/1/replay", {})
    assert status == 200 and body["queued"] == 3, body
    assert home.wait_runs("paint", 3, timeout=60)[-1] == "run 3 succeeded"
    _, runs = call(base, toks["reader"], "/api/jobs/paint/runs")
    by_number = {r["number"]: r for r in runs["runs"]}
    assert by_number[3]["inputs"] == by_number[1]["inputs"] != by_number[2]["inputs"]
    assert by_number[3]["cause"].startswith("replay: run 1 of paint")
    assert "bob (token)" in by_number[3]["cause"]

    status, body = call(base, toks["bob"], "/api/jobs/paint/runs/99/replay", {})
    assert (status, body["error"]) == (404, "paint has no run 99 to replay")
    status, body = call(base, toks["reader"], "/api/jobs/paint/runs/1/replay", {})
    assert status == 403


def test_the_openapi_description_is_served(home, line):
    base, toks = line
    req = urllib.request.Request(base + "/api/openapi.yaml",
                                 headers={"Authorization": "Bearer " + toks["reader"]})
    with urllib.request.urlopen(req, timeout=30) as resp:
        served = resp.read()
    assert served == (Path(__file__).parents[2] / "docs" / "openapi.yaml").read_bytes()
