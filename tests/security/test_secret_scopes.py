"""Issue #9, secrets reach only the jobs and hosts they belong to, against a real serve.

A pusher names another team's secret on a resource of its own job, and sends a
credential to a git server of its own: both are errors at their line, the job never runs,
nothing reaches the pusher's server, and the team's own job still gets its secret.
"""

from __future__ import annotations

TEAM_SECRET = "team-a-secret-6c1d"
GIT_TOKEN = "ghp-token-93e0aa"

LINE = """\
resources:
  - name: a_creds
    type: params
    integration: team_a_key
    versionTemplate: {params: {N: "1"}}
  - name: stolen
    type: params
    integration: team_a_key
    versionTemplate: {params: {N: "2"}}
  - name: their_repo
    type: gitRepo
    integration: gh
    versionTemplate: {url: "SINK_URL"}
jobs:
  - name: team_a_job
    type: runSh
    steps:
      - IN: a_creds
      - TASK: {script: ['test "$A_CREDS_INTEGRATION_VALUE" = "TEAM" && echo got-it']}
  - name: attacker_job
    type: runSh
    steps:
      - IN: stolen
      - TASK: {script: ['echo "$STOLEN_INTEGRATION_VALUE" > "$JOB_STATE/loot.txt"']}
  - name: fetcher
    type: runSh
    steps:
      - IN: their_repo
      - TASK: {script: ['echo fetched']}
"""


def test_a_secret_outside_its_scope_is_an_error_at_its_line_and_reaches_no_one(home):
    (home.path / "secrets.yml").write_text(
        f"team_a_key: {{value: {TEAM_SECRET}, jobs: [team_a_job]}}\n"
        f"gh: {{token: {GIT_TOKEN}, hosts: [github.com]}}\n"
        "old_global: anything-9\n")
    (home.path / "secrets.yml").chmod(0o600)
    home.start()
    text = LINE.replace("TEAM", TEAM_SECRET).replace("SINK_URL", "http://127.0.0.1:9/x.git")
    home.write("shippable.yml", text)
    home.push("a line that names another team's secret")
    assert home.wait_runs("team_a_job", 1, timeout=60) == ["run 1 succeeded"]
    assert "got-it" in home.show("jobs/team_a_job/log.txt")
    home.wait_idle()
    problems = "\n".join(home.status()["config"]["problems"])
    lines = text.splitlines()
    stolen_at = next(i for i, line in enumerate(lines, 1) if "name: stolen" in line) + 2
    assert (f"shippable.yml:{stolen_at}:5: error: resource 'stolen' names secret "
            "'team_a_key', which is not for job 'attacker_job'") in problems
    assert "resource 'their_repo' sends secret 'gh' to 127.0.0.1" in problems
    jobs = home.status()["jobs"]
    assert jobs["attacker_job"]["lastRun"] is None and jobs["fetcher"]["lastRun"] is None
    assert "not for 127.0.0.1" not in home.server_log()  # never polled with it
    history = home.git("log", "-p", "state")
    assert TEAM_SECRET not in history and GIT_TOKEN not in history
    # serve said at start which secrets any job may name (gh is scoped by hosts only)
    assert ("secrets.yml: 2 secret(s) reach any job or resource that names them "
            "(no jobs:/resources: scope): gh, old_global") in home.server_log()
