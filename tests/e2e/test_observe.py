"""Issue #12, metrics and health: /healthz and /readyz without a token, /metrics in the
Prometheus format behind one, against a real `gitline serve --listen` that runs a job."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.lines import PAINT_BY_LINE as LINE


def get(url: str, token: str = "") -> tuple[int, str, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_health_readiness_and_metrics_of_a_serving_controller(home: Home) -> None:
    reader = gitline("token", "add", home.path, "prom", "--scope", "read").stdout.strip()
    base = serve(home)
    home.write("shippable.yml", LINE.format(color="blue"))
    home.push("a job")
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    home.wait_idle()

    status, kind, body = get(base + "/healthz")
    assert status == 200 and kind == "application/json" and json.loads(body)["status"] == "alive"
    status, _, body = get(base + "/readyz")
    report = json.loads(body)
    assert status == 200 and report["status"] == "ready", report
    assert report["watching"] and report["recentPass"] and report["stateWritable"]

    assert get(base + "/metrics")[0] == 401  # a token is needed
    status, kind, text = get(base + "/metrics", reader)
    assert status == 200 and kind.startswith("text/plain")
    got = samples(text)
    assert got[("gitline_runs_started_total", (("job", "paint"),))] == 1
    assert got[("gitline_runs_finished_total", (("job", "paint"), ("status", "succeeded")))] == 1
    assert got[("gitline_run_duration_seconds_count", (("job", "paint"),))] == 1
    assert got[("gitline_reconcile_pass_seconds_count", ())] >= 1
    assert got[("gitline_config_loads", ())] == 1
    assert got[("gitline_runs_queued", ())] == 0 and got[("gitline_runs_running", ())] == 0
    assert got[("gitline_http_requests_total", (("code", "200"), ("kind", "health")))] >= 2

    # a push that does not load: the last good workflow runs on, and the gauge says so
    home.write("shippable.yml", "jobs: [\n")
    home.push("broken YAML")
    home.wait_idle()
    assert samples(get(base + "/metrics", reader)[2])[("gitline_config_loads", ())] == 0


def test_json_logs_name_the_job_and_run_of_each_run_line(home: Home) -> None:
    home.start("--log-format", "json", "--log-level", "info")
    home.write("shippable.yml", LINE.format(color="red"))
    home.push("a job")
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    lines = [json.loads(line) for line in home.server_log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    about_runs = [line for line in lines if line["message"].startswith("paint: run 1")]
    assert about_runs and all(line["job"] == "paint" and line["run"] == 1
                              for line in about_runs)
    assert not any(line["level"] == "debug" for line in lines)
