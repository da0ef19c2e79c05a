"""Issue #9: API trigger parameters cannot change how a job runs (a real `gitline serve`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.harness.commands import gitline
from tests.harness.wait import free_port, wait_for

LINE = """\
resources:
  - name: t
    type: trigger
jobs:
  - name: deploy
    type: runSh
    steps:
      - IN: t
      - TASK: {script: ['env > "$JOB_STATE/env.txt"']}
"""


def _post(base: str, token: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(base + "/api/jobs/deploy/trigger", method="POST",
                                 data=json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def _up(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/api/status", timeout=5)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def test_api_refuses_steering_params_and_keeps_newlines_inside_values(home):
    token = gitline("token", "add", home.path, "alice").stdout.strip().splitlines()[0]
    port = free_port()
    home.start("--listen", f"127.0.0.1:{port}")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _up(base), 30, "the HTTP server")
    home.write("shippable.yml", LINE)
    home.push("line")
    home.wait_runs("deploy", 1, timeout=60)
    for name in ("PATH", "LD_PRELOAD", "BASH_ENV", "PYTHONPATH", "GIT_SSH_COMMAND"):
        status, body = _post(base, token, {"params": {name: "/tmp/evil"}})
        assert status == 400, (name, body)
        assert name in body["error"] and "not allowed" in body["error"]
    assert home.git("log", "--format=%s", "main").count("trigger deploy") == 0
    status, _ = _post(base, token, {"params": {"REASON": "x\nBASH_ENV=/tmp/evil\nINJECTED=1"}})
    assert status == 202
    assert home.wait_runs("deploy", 2, timeout=60)[-1] == "run 2 succeeded"
    env = home.show("jobs/deploy/state/env.txt")
    value = "REASON=x\nBASH_ENV=/tmp/evil\nINJECTED=1\n"
    assert value in env
    rest = env.replace(value, "")
    assert "BASH_ENV" not in rest and "INJECTED" not in rest
