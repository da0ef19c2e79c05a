"""`on_start` NOTIFY is delivered when the run starts, while it is still running."""

from __future__ import annotations

from tests.harness.sinks import HttpSink
from tests.harness.wait import wait_for

LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {X: "1"}}
  - name: ops_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: ops_hook_url}
jobs:
  - name: slow
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            # until the test says go, or 15 s (a sandbox may hide the test's folder)
            - 'for i in $(seq 1 150); do [ -e "GO_FILE" ] && break; sleep 0.1; done'
    on_start: {NOTIFY: ops_hook}
    on_success: {NOTIFY: ops_hook}
"""


def test_on_start_notice_arrives_while_the_run_is_still_running(home, tmp_path):
    go = tmp_path / "go"
    with HttpSink() as http:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"ops_hook_url: {http.url('/hook')}\n")
        secrets.chmod(0o600)
        home.start()
        home.write("shippable.yml", LINE.replace("GO_FILE", str(go)))
        home.push("a slow job that tells when it starts")
        [started] = http.wait(1)
        assert started.body["event"] == "on_start", started.body
        assert started.body["text"] == "slow run 1 started"
        assert started.body["status"] == "running"
        # the run is still running: nothing has finished, the status says so
        assert home.runs("slow") == []
        assert "slow: run 1 started" in home.subjects()
        assert len(http.received) == 1
        go.touch()  # now let it finish
        assert home.wait_runs("slow", 1) == ["run 1 succeeded"]
        http.wait(2)
        wait_for(lambda: "slow: run 1 notifications: 2 delivered" in home.subjects(), 30,
                 "the run's delivery record")
    assert [r.body["event"] for r in http.received] == ["on_start", "on_success"]
    record = home.show("notifications/slow.yml")
    assert record.count("status: delivered") == 2 and "event: on_start" in record
