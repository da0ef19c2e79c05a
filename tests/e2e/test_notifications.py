"""Notifications delivered for real, by `gitline serve`, to servers this test starts."""

from __future__ import annotations

import pytest

from tests.harness.sinks import HttpSink, SmtpSink
from tests.harness.wait import wait_for

LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {X: "1"}}
  - name: ops_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: ops_hook_url}
  - name: ops_slack
    type: notification
    integration: ops_slack_int
    versionTemplate: {method: slack, recipients: ["#ops"]}  # the sink is no hooks.slack.com
  - name: ops_mail
    type: notification
    integration: ops_smtp
    versionTemplate:
      method: email
      recipients: [ops@example.com]
      smtp: {from: ci@example.com}
jobs:
  - name: breaks
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['for i in $(seq 1 30); do echo "step $i"; done', 'exit 3']}
    on_start: {NOTIFY: ops_hook}
    on_failure:
      NOTIFY:
        - {name: ops_slack, sendFailingSnippet: true}
        - {name: ops_mail, sendFailingSnippet: true}
  - name: works
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['shipctl notify ops_hook --text="works is done" --color=green']}
    on_success: {NOTIFY: ops_hook}
"""


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hooks_and_shipctl_notify_reach_webhook_slack_and_smtp(home, monkeypatch):
    with HttpSink() as http, SmtpSink(user="ci", password="smtp-pw-5521") as smtp:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"ops_hook_url: {http.url('/hook/T123')}\n"
                           f"ops_smtp: {{host: 127.0.0.1, port: {smtp.port}, user: ci, "
                           "password: smtp-pw-5521, tls: plain, resources: [ops_mail]}\n")
        secrets.chmod(0o600)
        monkeypatch.setenv("GITLINE_SECRET_OPS_SLACK_INT", http.url("/slack/B456"))
        home.start()
        home.write("shippable.yml", LINE.replace("SMTP_PORT", str(smtp.port)))
        home.push("line with notifications")
        assert home.wait_runs("breaks", 1) == ["run 1 failed (exit 3)"]
        assert home.wait_runs("works", 1) == ["run 1 succeeded"]
        http.wait(4)
        [(rcpt, mail)] = smtp.wait(1)
        wait_for(lambda: {"breaks: run 1 notifications: 3 delivered",
                          "works: run 1 notifications: 2 delivered"} <= set(home.subjects()),
                 30, "records")

    by_path: dict[str, list[dict]] = {}
    for r in http.received:
        by_path.setdefault(r.path, []).append(r.body)
    [started] = [b for b in by_path["/hook/T123"] if b["job"] == "breaks"]
    assert started["event"] == "on_start" and started["text"] == "breaks run 1 started"
    works = sorted((b["event"], b["text"]) for b in by_path["/hook/T123"] if b["job"] == "works")
    assert works == [("on_success", "works run 1 succeeded"), ("shipctl", "works is done")]
    [slack] = by_path["/slack/B456"]
    assert slack["channel"] == "#ops"
    assert slack["text"].startswith("breaks run 1 failed (exit 3)")
    assert "step 30" in slack["text"] and "step 5\n" not in slack["text"]  # the last lines
    assert rcpt == ["ops@example.com"] and smtp.logins == ["ci"]
    assert " ".join(mail["Subject"].split()).startswith("[gitline] breaks run 1 failed (exit 3)")
    assert "step 30" in mail.get_payload()

    record = home.show("notifications/breaks.yml")
    assert "run: 1" in record and record.count("status: delivered") == 3
    subjects = home.subjects()
    assert "breaks: run 1 notifications: 3 delivered" in subjects
    assert "works: run 1 notifications: 2 delivered" in subjects


DOWN = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {X: "1"}}
  - name: dead_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: dead_url}
  - name: unset_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: never_set}
jobs:
  - name: quick
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['echo quick']}
    always: {NOTIFY: [dead_hook, unset_hook]}
"""


def test_delivery_failures_never_block_or_fail_a_run_and_are_recorded(home):
    with HttpSink() as gone:
        dead = gone.url("/dead")
    secrets = home.path / "secrets.yml"
    secrets.write_text(f"dead_url: {dead}\n")
    secrets.chmod(0o600)
    home.start()
    home.write("shippable.yml", DOWN)
    home.push("a line whose hooks go nowhere")
    assert home.wait_runs("quick", 1) == ["run 1 succeeded"]
    home.write("shippable.yml", DOWN.replace('X: "1"', 'X: "2"'))
    home.push("again")
    # the second run is not held up by the first run's retries
    assert home.wait_runs("quick", 2, timeout=20) == ["run 1 succeeded", "run 2 succeeded"]
    wait_for(lambda: "quick: run 1 notifications" in "\n".join(home.subjects()), 60, "record")
    subjects = "\n".join(home.subjects())
    assert "quick: run 1 notifications: 1 failed, 1 skipped" in subjects
    record = home.git("show", "state:notifications/quick.yml")
    assert "attempts: 4" in record and "secret never_set is not set" in record
    assert "/dead" not in record and dead not in home.server_log()


def test_notifications_off_sends_nothing_and_says_so(home):
    with HttpSink() as http:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"dead_url: {http.url()}\n")
        secrets.chmod(0o600)
        (home.path / "gitline.yml").write_text(
            (home.path / "gitline.yml").read_text() + "\nnotifications: off\n")
        home.start()
        home.write("shippable.yml", DOWN)
        home.push("line")
        home.wait_runs("quick", 1)
        wait_for(lambda: "quick: run 1 notifications" in "\n".join(home.subjects()), 30, "rec")
        assert http.hits == 0
    assert "notifications are off" in home.show("notifications/quick.yml")


SEEN = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {X: "RUN"}}
  - name: ops_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: ops_hook_url}
  - name: unset_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: never_set}
jobs:
  - name: paint
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: ['echo painted']}
    on_success: {NOTIFY: [ops_hook, unset_hook]}
"""


def test_the_api_and_the_run_page_show_what_a_runs_notices_did(home):
    """Whether a notice reached its target is read where the run is read: the run page
    and `GET /api/jobs/<job>/runs/<n>/notices`, not only in the state branch's files."""
    import json

    from tests.harness.http import serve_base
    from tests.harness.web import WebClient

    with HttpSink() as http:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"ops_hook_url: {http.url('/hook')}\n")
        secrets.chmod(0o600)
        tok = gitline_token(home)
        base = serve_base(home)
        home.write("shippable.yml", SEEN.replace("RUN", "1"))
        home.push("paint once")
        assert home.wait_runs("paint", 1) == ["run 1 succeeded"]
        wait_for(lambda: "paint: run 1 notifications: 1 delivered, 1 skipped"
                 in home.subjects(), 30, "the notices' record")
        api = WebClient(base)
        auth = {"Authorization": f"Bearer {tok}"}
        reply = api.request("/api/jobs/paint/runs/1/notices", headers=auth)
        assert reply.status == 200, reply
        sent = json.loads(reply.body)
        assert sent["run"] == 1
        assert [(n["notification"], n["status"]) for n in sent["notices"]] == [
            ("ops_hook", "delivered"), ("unset_hook", "skipped")]
        assert "never_set" in sent["notices"][1]["error"]
        browser = WebClient(base)
        browser.sign_in(tok)
        page = browser.get("/jobs/paint/runs/1")
        assert page.status == 200 and "<ul id=\"notices\">" in page.body, home.server_log()[-3000:]
        assert "delivered</span> ops_hook (webhook)" in page.body

        home.write("shippable.yml", SEEN.replace("RUN", "2"))
        home.push("paint again")
        assert home.wait_runs("paint", 2)[-1] == "run 2 succeeded"
        wait_for(lambda: "paint: run 2 notifications: 1 delivered, 1 skipped"
                 in home.subjects(), 30, "the second record")
        old = api.request("/api/jobs/paint/runs/1/notices", headers=auth)
        assert old.status == 404
        assert "git log -p origin/state -- notifications/paint.yml" in old.body
        assert "git log -p origin/state -- notifications/paint.yml" in \
            browser.get("/jobs/paint/runs/1").body
        for path, status in (("/api/jobs/paint/runs/2/notices", 200),
                             ("/api/jobs/nope/runs/1/notices", 404),
                             ("/api/jobs/paint/runs/9/notices", 404),
                             ("/api/jobs/..%2Fjobs/runs/1/notices", 404)):
            assert api.request(path, headers=auth).status == status, path
        assert api.request("/api/jobs/paint/runs/2/notices").status == 401  # no token
    history = home.git("log", "-p", "state", "--", "notifications/paint.yml")
    assert "run: 1" in history and "run: 2" in history


def gitline_token(home) -> str:
    from tests.harness.http import token

    return token(home, "ada", "--scope", "read")
