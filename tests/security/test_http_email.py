"""Mail recipients with CR/LF, against `gitline validate` and a real `gitline serve`.

Before: a recipient with a CR made the mail library raise, which dropped the whole batch
of a run's notifications (the others were never sent, nothing was recorded).
"""

from __future__ import annotations

from tests.harness.commands import gitline
from tests.harness.sinks import HttpSink

BAD_LINE = """\
resources:
  - name: ops_mail
    type: notification
    versionTemplate:
      method: email
      smtp: {host: 127.0.0.1}
      recipients: ["ops@example.com", "x@example.com\\r\\nBcc: everyone@example.com"]
"""

LINE = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {X: "1"}}
  - name: ops_hook
    type: notification
    versionTemplate: {method: webhook, url_secret: ops_hook_url}
  - name: ops_mail
    type: notification
    versionTemplate:
      method: email
      recipients: [ops@example.com]
      smtp: {host: 127.0.0.1, port: 9}
jobs:
  - name: works
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            - R=$(printf 'ops@example.com\\rBcc: everyone@example.com')
            - shipctl notify ops_mail --recipient="$R"
    on_success: {NOTIFY: ops_hook}
"""


def test_a_recipient_with_cr_lf_is_refused_at_its_line(tmp_path, home):
    path = tmp_path / "shippable.yml"
    path.write_text(BAD_LINE)
    result = gitline("validate", path, check=False)
    assert result.returncode == 1
    assert f"{path}:7:" in result.stdout + result.stderr
    assert "control character" in result.stdout + result.stderr
    home.start()
    home.write("shippable.yml", BAD_LINE)
    home.push("a bad recipient")
    home.wait_idle()
    problems = home.status()["config"]["problems"]
    assert any("shippable.yml:7" in str(p) and "control character" in str(p) for p in problems)


def test_a_recipient_with_cr_never_drops_the_batch(home):
    with HttpSink() as http:
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"ops_hook_url: {http.url('/hook')}\n")
        secrets.chmod(0o600)
        home.start()
        home.write("shippable.yml", LINE)
        home.push("a job that names a forged recipient")
        assert home.wait_runs("works", 1) == ["run 1 succeeded"]
        [hook] = http.wait(1)
        assert hook.body["event"] == "on_success"
    from tests.harness.wait import wait_for

    wait_for(lambda: "works: run 1 notifications" in "\n".join(home.subjects()), 30, "record")
    record = home.show("notifications/works.yml")
    assert record.count("status: delivered") == 1 and "status: failed" in record
    assert "control character" in record


LOGIN_FROM_WORKFLOW = """\
resources:
  - name: ops_mail
    type: notification
    versionTemplate:
      method: email
      recipients: [ops@example.com]
      smtp: {host: 127.0.0.1, user_secret: hook_key, password_secret: other_team_secret}
  - name: ops_irc
    type: notification
    versionTemplate: {method: irc, recipients: ["#ops"]}
"""


def test_a_workflow_naming_an_smtp_login_or_an_unknown_method_is_refused_at_its_line(tmp_path):
    path = tmp_path / "shippable.yml"
    path.write_text(LOGIN_FROM_WORKFLOW)
    result = gitline("validate", path, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"{path}:7:" in out and "user_secret/password_secret are not read" in out
    assert f"{path}:10:" in out and "method 'irc' is not one of webhook, slack, email" in out
