"""Issue #14, runCLI runs: a cliConfig input's integration becomes its tool's own
environment and config files in the job's HOME, from secrets in scope, against a real
`gitline serve` and real pushes; the tools installed here read them."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from controller.execution.step import DEFAULT_PATH
from tests.harness.leaks import state_blobs

AWS_KEY = "AKIA-cli-4b1e9c"
AWS_SECRET = "aws-secret-0d7f2a"
DOCKER_PASSWORD = "docker-pass-5e3a"
AZURE_PASSWORD = "azure-pass-8c2b"
GCP_KEY = {"type": "service_account", "project_id": "demo-proj",
           "client_email": "ci@demo-proj.iam.gserviceaccount.com",
           "private_key_id": "gcp-key-id-71aa", "private_key": "gcp-private-91fe"}
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c1, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: u1, user: {token: kube-token-2f6d}}]
contexts: [{name: gitline-ctx, context: {cluster: c1, user: u1}}]
current-context: gitline-ctx
"""


def secrets_yml(jobs: str) -> str:
    scope = f"jobs: [{jobs}]"
    gcp = json.dumps(json.dumps(GCP_KEY))
    kube = json.dumps(KUBECONFIG)
    return (f"my_aws: {{accessKey: {AWS_KEY}, secretKey: {AWS_SECRET}, {scope}}}\n"
            f"my_kube: {{kubeConfig: {kube}, {scope}}}\n"
            f"my_reg: {{username: ci-bot, password: {DOCKER_PASSWORD}, "
            f"url: registry.example.com, {scope}}}\n"
            f"my_gcp: {{JSON_key: {gcp}, {scope}}}\n"
            f"my_az: {{appId: app-1, password: {AZURE_PASSWORD}, tenant: t-1, {scope}}}\n")


RESOURCES = """\
resources:
  - name: aws_cli
    type: cliConfig
    integration: my_aws
    versionTemplate: {region: eu-west-1}
  - name: kube_cli
    type: cliConfig
    integration: my_kube
  - name: reg_cli
    type: cliConfig
    integration: my_reg
  - name: gcp_cli
    type: cliConfig
    integration: my_gcp
    versionTemplate: {region: europe-west1}
  - name: az_cli
    type: cliConfig
    integration: my_az
"""

CHECK_DOCKER = ("import json, os, base64; d = json.load(open(os.environ['DOCKER_CONFIG'] + "
                "'/config.json')); a = d['auths']['registry.example.com']['auth']; "
                "u, p = base64.b64decode(a).decode().split(':', 1); "
                "print('docker-user', u, 'auth-ok' if p == os.environ['REG_CLI_INTEGRATION_"
                "PASSWORD'] else 'auth-bad')")

CHECK_GCP = ("import json, os; k = json.load(open(os.environ['GOOGLE_APPLICATION_CREDENTIALS']));"
             " print('gcp-account', k['client_email'])")

LINE = RESOURCES + f"""\
jobs:
  - name: cli
    type: runCLI
    steps:
      - IN: aws_cli
      - IN: kube_cli
      - IN: reg_cli
      - IN: gcp_cli
      - IN: az_cli
      - TASK:
          name: configured
          script:
            - test "$HOME" = "$JOB_PATH/.gitline/home"
            - test "$AWS_ACCESS_KEY_ID" = "$AWS_CLI_INTEGRATION_ACCESSKEY"
            - test "$AWS_DEFAULT_REGION" = eu-west-1
            - grep -qx "aws_secret_access_key = $AWS_SECRET_ACCESS_KEY" ~/.aws/credentials
            - grep -qx "region = eu-west-1" ~/.aws/config
            - test "$(stat -c %a ~/.aws/credentials)" = 600
            - echo "kube-context $(kubectl config current-context)"
            - python3 -c "{CHECK_DOCKER}"
            - python3 -c "{CHECK_GCP}"
            - grep -qx "project = demo-proj" "$CLOUDSDK_CONFIG/configurations/config_default"
            - test "$AZURE_CLIENT_SECRET" = "$AZ_CLI_INTEGRATION_PASSWORD" && echo azure-ok
            - cat ~/.aws/credentials "$GOOGLE_APPLICATION_CREDENTIALS" "$DOCKER_CONFIG/config.json"
  - name: intruder
    type: runSh
    steps:
      - IN: aws_cli
      - TASK: {{script: ['echo "$AWS_SECRET_ACCESS_KEY" > "$JOB_STATE/loot.txt"']}}
"""


def test_runcli_configures_each_tool_in_the_jobs_home_from_secrets_in_scope(home):
    (home.path / "secrets.yml").write_text(secrets_yml("cli"))
    (home.path / "secrets.yml").chmod(0o600)
    home.start()
    home.write("shippable.yml", LINE)
    home.push("runCLI with five cliConfig inputs")
    runs = home.wait_runs("cli", 1, timeout=90)
    log = home.show("jobs/cli/log.txt")
    assert runs == ["run 1 succeeded"], log
    assert "kube-context gitline-ctx" in log
    assert "docker-user **** auth-ok" in log  # the user name is a field too
    assert "gcp-account ci@demo-proj.iam.gserviceaccount.com" in log
    assert "azure-ok" in log
    # each input says, at its line, what it configured
    text = LINE.splitlines()
    aws_at = next(i for i, line in enumerate(text, 1) if "- IN: aws_cli" in line)
    assert f"gitline: IN aws_cli (shippable.yml:{aws_at}:9): aws: ~/.aws/credentials" in log
    # the files' credentials are masked when a job prints them, docker's base64 too
    auth = base64.b64encode(f"ci-bot:{DOCKER_PASSWORD}".encode()).decode()
    assert "aws_secret_access_key = ****" in log

    # the job outside the secrets' scope got nothing and the workflow says so at its line
    home.wait_idle()
    problems = "\n".join(home.status()["config"]["problems"])
    res_at = next(i for i, line in enumerate(text, 1) if "name: aws_cli" in line) + 2
    assert (f"shippable.yml:{res_at}:5: error: resource 'aws_cli' names secret 'my_aws', "
            "which is not for job 'intruder'") in problems, problems
    assert home.status()["jobs"]["intruder"]["lastRun"] is None
    home.stop()
    for mine in (".aws/credentials", ".docker/config.json", ".kube/aws_cli.config"):
        theirs = Path.home() / mine  # the controller's own HOME was never written
        assert not theirs.exists() or AWS_SECRET not in theirs.read_text()
    everything = state_blobs(home.repo) + home.server_log()
    for value in (AWS_KEY, AWS_SECRET, DOCKER_PASSWORD, AZURE_PASSWORD, auth,
                  GCP_KEY["private_key"], "kube-token-2f6d"):
        assert value not in everything, f"{value} leaked"


NEEDS = RESOURCES + """\
  - name: unset_cli
    type: cliConfig
    integration: not_in_secrets
jobs:
  - name: cli
    type: runCLI
    steps:
      - IN: aws_cli
      - IN: unset_cli
      - TASK:
          name: deploy
          script:
            - echo before
            - aws sts get-caller-identity
            - echo never
"""


@pytest.mark.skipif(shutil.which("aws", path=DEFAULT_PATH) is not None,
                    reason="aws is installed on a job's default PATH here")
def test_a_tool_that_is_not_installed_fails_the_step_that_runs_it(home):
    (home.path / "secrets.yml").write_text(secrets_yml("cli"))
    (home.path / "secrets.yml").chmod(0o600)
    home.start()
    home.write("shippable.yml", NEEDS)
    home.push("runCLI that needs aws")
    assert home.wait_runs("cli", 1, timeout=60) == ["run 1 failed (exit 127)"]
    log = home.show("jobs/cli/log.txt")
    at = next(i for i, line in enumerate(NEEDS.splitlines(), 1) if "- IN: aws_cli" in line)
    assert (f"gitline: needs aws: not on PATH (IN aws_cli (shippable.yml:{at}:9))") in log
    assert "before" in log and "never" not in log
    unset = f"gitline: IN unset_cli (shippable.yml:{at + 1}:9): its integration is not set"
    assert f"{unset} in secrets.yml; no tool is configured" in log
    assert "gitline: TASK deploy: failed (exit code 127)" in log
