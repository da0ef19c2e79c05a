"""Issue #17 through a running controller: what Shippable's documentation promised
happens (dependencyMode, release bump, OUT on_failure, integrations, not-applied keys)."""

from __future__ import annotations

from tests.harness.commands import gitline
from tests.harness.lines import params_and_job
from tests.harness.sinks import HttpSink
from tests.harness.wait import wait_for


def write_secrets(home, text: str) -> None:
    """HOME/secrets.yml as the controller accepts it (mode 0600)."""
    path = home.path / "secrets.yml"
    path.write_text(text)
    path.chmod(0o600)


CHRONO = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {{params: {{N: "{n}"}}}}
jobs:
  - name: up
    type: runSh
    steps:
      - IN: cfg
      - TASK: {{script: ['test "$N" != 2']}}
  - name: down
    type: runSh
    steps:
      - IN: up
      - IN: cfg
      - TASK: {{script: ['echo "down saw N=$N"']}}
"""


def test_chrono_a_job_does_not_run_while_its_input_job_last_failed(home):
    home.start()
    home.write("shippable.yml", CHRONO.format(n=1))
    home.push("a line")
    assert home.wait_runs("down", 1) == ["run 1 succeeded"]
    home.write("shippable.yml", CHRONO.format(n=2))
    home.push("N=2 breaks up")
    assert home.wait_runs("up", 2)[-1] == "run 2 failed (exit 1)"
    home.wait_idle()
    assert home.runs("down") == ["run 1 succeeded"]  # cfg changed, but up failed
    assert home.status()["jobs"]["down"]["waiting"] == "input job up run 2 failed"
    home.write("shippable.yml", CHRONO.format(n=3))
    home.push("N=3 fixes up")
    assert home.wait_runs("down", 2)[-1] == "run 2 succeeded"
    assert "down saw N=3" in gitline("logs", home.path, "down").stdout


def test_a_file_named_myshippable_yml_is_a_workflow_file(home):
    home.start()
    home.write("ci/myshippable.yml", CHRONO.format(n=1))
    home.push("workflow in ci/myshippable.yml")
    assert home.wait_runs("down", 1) == ["run 1 succeeded"]


NOT_APPLIED = """\
vote:
  on_success: {Verified: 1}
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {N: "1"}}
  - name: tools
    type: cliConfig
    integration: gke
  - name: out_img
    type: image
    versionTemplate: {sourceName: registry/app}
jobs:
  - name: deploy
    type: runSh
    allowPublicAccess: true
    runtime: {container: false}
    steps:
      - IN: cfg
      - IN: tools
        switch: off
        scopes: [gke]
      - TASK:
          name: t
          runtime:
            options:
              imageName: drydock/u16
              imageTag: master
              pull: true
              options: "--privileged"
          script: [echo ok]
      - OUT: out_img
        replicateOnPullRequest: true
  - name: deploy2
    type: runSh
    allowPublicAccess: true
    steps:
      - IN: cfg
      - TASK: [echo ok]
"""


def test_keys_gitline_cannot_honour_are_said_once_as_not_applied_here(home):
    """runtime.container, a TASK's image options, allowPublicAccess, vote, scopes,
    replicateOnPullRequest: each one info in `status`, at push time, once per workflow."""
    home.start()
    home.write("shippable.yml", NOT_APPLIED)
    home.push("keys from a Shippable line")
    assert home.wait_runs("deploy2", 1) == ["run 1 succeeded"]
    problems = home.status()["config"]["problems"]
    said = [p.split(": info: ", 1)[1].split(" is not applied here: ")[0] for p in problems]
    assert said == ["'vote' of the top level", "'allowPublicAccess' of job 'deploy'",
                    "'container' of runtime of job 'deploy'",
                    "'scopes' of IN 'tools' of job 'deploy'",
                    *(f"'{k}' of options of runtime of TASK 't' of job 'deploy'"
                      for k in ("imageName", "imageTag", "pull", "options")),
                    "'replicateOnPullRequest' of OUT 'out_img' of job 'deploy'"]
    assert all(p.endswith("(said once)") for p in problems)
    text = gitline("status", home.path).stdout
    assert "'container' of runtime of job 'deploy' is not applied here: jobs run in " \
           "Gitline's bubblewrap sandbox, not in a container image" in text


RELEASES = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {N: "1"}}
  - name: v_default
    type: version
    versionTemplate: {versionName: "1.0.0"}
  - name: v_patch
    type: version
    versionTemplate: {versionName: "1.0.0"}
jobs:
  - name: rel_default
    type: release
    steps:
      - IN: cfg
      - IN: v_default
        switch: off
  - name: rel_patch
    type: release
    bump: patch
    steps:
      - IN: cfg
      - IN: v_patch
        switch: off
      - TASK: managed
"""


def test_release_bumps_minor_by_default_and_reads_a_job_level_bump(home):
    home.start()
    home.write("shippable.yml", RELEASES)
    home.push("two releases")
    assert home.wait_runs("rel_default", 1) == ["run 1 succeeded"]
    assert home.wait_runs("rel_patch", 1) == ["run 1 succeeded"]
    subjects = home.subjects()
    assert "v_default: version 2 (1.1.0) from rel_default run 1" in subjects
    assert "v_patch: version 2 (1.0.1) from rel_patch run 1" in subjects


ON_FAILURE = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {N: "1"}}
  - name: report
    type: params
    versionTemplate: {params: {RESULT: none}}
  - name: app_img
    type: image
    versionTemplate: {sourceName: registry/app}
jobs:
  - name: tests
    type: runSh
    steps:
      - IN: cfg
      - TASK:
          script:
            - shipctl post_resource_state report RESULT failed-at-3
            - shipctl post_resource_state app_img versionName 9.9
            - exit 3
      - OUT: report
        on_failure: true
      - OUT: app_img
"""


def test_an_out_with_on_failure_is_versioned_by_a_failed_run(home):
    home.start()
    home.write("shippable.yml", ON_FAILURE)
    home.push("tests that fail")
    assert home.wait_runs("tests", 1) == ["run 1 failed (exit 3)"]
    home.wait_idle()
    subjects = home.subjects()
    assert any(s.startswith("report: version 2") and s.endswith("from tests run 1")
               for s in subjects), subjects
    assert "RESULT: failed-at-3" in home.show("resources/report/version.yml")
    assert not any(s.startswith("app_img: version 2") for s in subjects)


def test_a_job_without_a_timeout_gets_the_default_one(home):
    """Shippable killed a run after 60 minutes; `default_timeout_minutes` is that, here
    made short. It cannot be switched off."""
    with (home.path / "gitline.yml").open("a") as f:
        f.write("default_timeout_minutes: 0.02\n")  # 1.2 seconds
    home.start()
    home.write("shippable.yml", params_and_job("hang", "[sleep 30]"))
    home.push("a job that hangs")
    assert home.wait_runs("hang", 1) == ["run 1 timed out"]
    assert "timed out after 0.02 minutes" in home.show("jobs/hang/run.yml")
    (home.path / "gitline.yml").write_text("default_timeout_minutes: 0\n")
    refused = gitline("status", home.path, check=False)
    assert refused.returncode == 1
    assert "setting default_timeout_minutes: must be more than 0 minutes, not 0" in \
        refused.stderr


RUNTIME_NAMES = """\
resources:
  - name: cfg
    type: params
    versionTemplate: {params: {NAMESPACE: prod-ns}}
  - name: my-key-1
    type: params
    versionTemplate: {params: {A: "1"}}
  - name: kube-prod
    type: cluster
    versionTemplate: {sourceName: prod-cluster, namespace: "${NAMESPACE}"}
  - name: creds
    type: integration
    integration: kv_creds
jobs:
  - name: show
    type: runSh
    steps:
      - IN: cfg
      - IN: my-key-1
      - IN: kube-prod
      - IN: creds
      - TASK:
          script:
            - echo "documented=$MYKEY1_VERSIONNUMBER gitline=$MY_KEY_1_VERSIONNUMBER"
            - NS=$(shipctl get_resource_version_key kube-prod namespace)
            - echo "namespace=$KUBEPROD_NAMESPACE $NS"
            - test -n "$username" && test "$username" = "$CREDS_INTEGRATION_USERNAME"
            - echo "kv keys as-is"
"""


def test_runtime_names_as_documented_kv_keys_as_is_and_placeholders_filled(home):
    write_secrets(home, "kv_creds: {username: ada-the-user, password: pa55-word-x}\n")
    home.start()
    home.write("shippable.yml", RUNTIME_NAMES)
    home.push("names, placeholders, a key-value integration")
    assert home.wait_runs("show", 1) == ["run 1 succeeded"]
    log = gitline("logs", home.path, "show").stdout
    assert "documented=1 gitline=1" in log
    assert "namespace=prod-ns prod-ns" in log
    assert "kv keys as-is" in log


PROVIDER = params_and_job("breaks", "[exit 3]").replace("jobs:\n", """\
  - name: team_hook
    type: notification
    integration: team_hook_int
    versionTemplate: {recipients: ["#ops"]}
jobs:
""") + """\
    on_failure: {NOTIFY: team_hook}
"""


def test_a_notification_integration_without_method_is_not_silently_slack(home):
    """A webhook-shaped provider's URL gets the JSON webhook body, and the workflow says
    what decides the method."""
    with HttpSink() as http:
        write_secrets(home, f"team_hook_int: {http.url('/team/T9')}\n")
        home.start()
        home.write("shippable.yml", PROVIDER)
        home.push("a provider's webhook")
        assert home.wait_runs("breaks", 1) == ["run 1 failed (exit 3)"]
        [got] = http.wait(1)
    assert got.path == "/team/T9"
    assert got.body["event"] == "on_failure" and got.body["job"] == "breaks"  # not Slack's
    wait_for(lambda: "breaks: run 1 notifications: 1 delivered" in home.subjects(),
             what="the delivery record")
    assert "method: webhook" in home.show("notifications/breaks.yml")
    [info] = [p for p in home.status()["config"]["problems"] if "no method" in p]
    assert ": info: resource 'team_hook' has an integration and no method: the method " \
           "follows its secret" in info


JOB_INTEGRATIONS = params_and_job("deploy", """[
            'test "$username" = "$DEPLOY_KV_INTEGRATION_USERNAME" && test -n "$username"',
            'test "$(shipctl get_integration_field deploy_kv token)" = "$token"',
            'echo "keys: $(shipctl get_integration_keys deploy_kv)"',
            'shipctl get_integration_resource deploy_kv > fields.json',
            'python3 -c "import json, sys; print(sorted(json.load(sys.stdin)))" < fields.json']"""
    ).replace("    type: runSh\n", "    type: runSh\n    integrations: [deploy_kv]\n")


def test_job_level_integrations_reach_the_job_as_shippable_exported_them(home):
    write_secrets(home, "deploy_kv: {username: ada-the-user, token: t0k-8812, jobs: [deploy]}\n")
    home.start()
    home.write("shippable.yml", JOB_INTEGRATIONS)
    home.push("a job with integrations:")
    assert home.wait_runs("deploy", 1) == ["run 1 succeeded"], gitline(
        "logs", home.path, "deploy").stdout
    log = gitline("logs", home.path, "deploy").stdout
    assert "keys: username token" in log
    assert "['token', 'username']" in log
    assert "t0k-8812" not in log and "ada-the-user" not in log
