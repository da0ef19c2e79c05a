"""Secrets (HOME/secrets.yml and GITLINE_SECRET_*) never reach the state branch or the logs."""

from __future__ import annotations

from tests.harness.leaks import state_blobs
from tests.harness.sinks import HttpSink
from tests.harness.wait import wait_for

FILE_TOKEN = "file-token-8d1f5a"
ENV_TOKEN = "env-token-44c0b7"
INTEGRATION_KEY = "AKIA-integration-9a9a"
ENV_FIELD = "field-from-env-77e2"

LINE = """\
resources:
  - name: aws
    type: cliConfig
    integration: my_aws
    versionTemplate: {region: eu-west-1}
  - name: hook
    type: notification
    versionTemplate: {method: webhook, url_secret: hook_url}
  - name: slack
    type: notification
    integration: slack_int
jobs:
  - name: uses_secrets
    type: runSh
    steps:
      - IN: aws
      - TASK:
          script:
            - echo "key=$AWS_INTEGRATION_ACCESSKEY other=$AWS_INTEGRATION_EXTRA"
            - echo "$AWS_INTEGRATION_ACCESSKEY" > "$JOB_STATE/leak.txt"
            - shipctl notify hook --text="key $AWS_INTEGRATION_ACCESSKEY"
            - exit 1
    on_failure: {NOTIFY: [{name: slack, sendFailingSnippet: true}, hook]}
"""


def test_secrets_never_reach_the_state_branch_or_the_logs(home, monkeypatch):
    with HttpSink() as http:
        hook_url = http.url(f"/hooks/{FILE_TOKEN}")
        slack_url = http.url(f"/slack/{ENV_TOKEN}")
        secrets = home.path / "secrets.yml"
        secrets.write_text(f"hook_url: {hook_url}\nmy_aws: {{accessKey: {INTEGRATION_KEY}}}\n")
        secrets.chmod(0o600)
        monkeypatch.setenv("GITLINE_SECRET_SLACK_INT", slack_url)
        monkeypatch.setenv("GITLINE_SECRET_MY_AWS__EXTRA", ENV_FIELD)
        home.start()
        home.write("shippable.yml", LINE)
        home.push("a line with secrets")
        assert home.wait_runs("uses_secrets", 1) == ["run 1 failed (exit 1)"]
        http.wait(3)
        wait_for(lambda: "notifications" in "\n".join(home.subjects()), 30, "delivery record")
        home.stop()
    # the secrets did their job: the job saw them, the notices went to the secret URLs
    paths = sorted(r.path for r in http.received)
    assert paths == [f"/hooks/{FILE_TOKEN}", f"/hooks/{FILE_TOKEN}", f"/slack/{ENV_TOKEN}"]
    texts = [r.body.get("text", "") for r in http.received]
    assert any("key ****" in t for t in texts), texts  # shipctl notify --text was masked
    log = home.show("jobs/uses_secrets/log.txt")
    assert "key=**** other=****" in log

    everything = state_blobs(home.repo) + home.server_log()
    for value in (FILE_TOKEN, ENV_TOKEN, INTEGRATION_KEY, ENV_FIELD, hook_url, slack_url):
        assert value not in everything, f"{value} leaked"
    for received in http.received:  # what went out carries no secret either
        assert INTEGRATION_KEY not in str(received.body)
