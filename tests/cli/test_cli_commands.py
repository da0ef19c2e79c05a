"""The CLI as a subprocess against a real home: HOME handling, name checks, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.harness.commands import cli
from tests.harness.home import Home


def heads(home: Home) -> tuple[str, str]:
    return (home.git("rev-parse", "main").strip(),
            home.git("rev-parse", "--verify", "-q", "state", check=False).strip())


@pytest.mark.parametrize("args", [
    ["status"], ["log", "app_build"], ["logs", "build_app"], ["trigger", "deploy_prod"],
    ["approve", "deploy_prod"], ["cancel", "deploy_prod"], ["replay", "deploy_prod", "1"],
    ["token", "list"], ["token", "add", "ci"],
])
def test_every_home_command_without_home_says_how_to_give_one(args, tmp_path):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "give HOME or set GITLINE_HOME" in done.stderr


def test_gitline_home_the_option_and_the_first_argument_all_name_home(sample_home, tmp_path):
    h = str(sample_home.path)
    before = heads(sample_home)
    forms = [cli("trigger", "deploy_prod", home_env=h),
             cli("trigger", h, "deploy_prod"),
             cli("trigger", "--home", h, "deploy_prod"),
             cli("trigger", "-H", h, "deploy_prod", "-p", "REASON=x")]
    for done in forms:
        assert done.returncode == 0, done.stderr
        assert "committed triggers/deploy_prod" in done.stdout
    log = sample_home.git("log", "--format=%s", f"{before[0]}..main").splitlines()
    assert log == ["trigger deploy_prod"] * 4
    # `log NAME` with GITLINE_HOME: NAME is the name, not a home
    assert "no history for 'app_build'" in cli("log", "app_build", home_env=h).stderr
    assert "--home" in cli("log", "--help").stdout and "GITLINE_HOME" in cli("log", "--help").stdout


@pytest.mark.parametrize("args", [
    ["trigger", "deplyo_prod"], ["approve", "deplyo_prod"], ["cancel", "deplyo_prod"],
    ["replay", "deplyo_prod", "1"], ["logs", "deplyo_prod"],
])
def test_a_job_that_does_not_exist_exits_2_suggests_and_commits_nothing(sample_home, args):
    before = heads(sample_home)
    done = cli(args[0], sample_home.path, *args[1:])
    assert done.returncode == 2
    assert "no job 'deplyo_prod'; did you mean 'deploy_prod'?" in done.stderr
    assert heads(sample_home) == before
    assert not list((sample_home.path / "requests").glob("*.yml"))


def test_approve_of_a_job_without_approval_or_without_a_waiting_run_says_so(sample_home):
    before = heads(sample_home)
    done = cli("approve", sample_home.path, "build_app")
    assert done.returncode == 2 and "'build_app' does not require approval" in done.stderr
    done = cli("approve", sample_home.path, "deploy_prod")
    assert done.returncode == 1 and "no run of deploy_prod is pending approval" in done.stderr
    assert heads(sample_home) == before


def test_replay_of_a_run_that_does_not_exist_says_so(sample_home):
    done = cli("replay", sample_home.path, "build_app", "99")
    assert done.returncode == 2 and "build_app has no run 99 to replay" in done.stderr
    assert not list((sample_home.path / "requests").glob("*.yml"))


@pytest.mark.parametrize(("args", "said"), [
    (["logs", "build_app"], "no log for build_app"),
    (["logs", "build_app", "3"], "no log for build_app run 3"),
    (["logs", "-f", "build_app"], "build_app has no run to follow"),
])
def test_a_job_with_nothing_there_yet_exits_1_not_as_a_usage_error(sample_home, args, said):
    done = cli(args[0], sample_home.path, *args[1:])
    assert (done.returncode, done.stderr.strip()) == (1, f"Error: {said}")


def test_validate_a_folder_without_workflow_and_graph_of_a_broken_file(tmp_path):
    (tmp_path / "empty").mkdir()
    done = cli("validate", tmp_path / "empty")
    assert done.returncode == 1 and "no workflow file" in done.stderr
    bad = tmp_path / "bad" / "shippable.yml"
    bad.parent.mkdir()
    bad.write_text("resources: [\n")
    done = cli("graph", bad.parent)
    assert done.returncode == 1 and f"{bad}:" in done.stderr and "digraph" not in done.stdout


def test_validate_sorts_by_file_and_line_and_speaks_json_and_github(tmp_path):
    (tmp_path / "b.shippable.yml").write_text(
        "resources:\n  - name: x\n    type: nope\n  - name: y\n    type: nope\n")
    (tmp_path / "a.shippable.yml").write_text(
        "jobs:\n  - name: j\n    type: runSh\n    steps:\n      - IN: missing\n"
        "      - TASK:\n          script: [echo]\n")
    text = cli("validate", tmp_path)
    assert text.returncode == 1
    lines = text.stdout.splitlines()
    where = [(line.split(":")[0], int(line.split(":")[1])) for line in lines]
    assert where == sorted(where) and len(where) >= 2
    data = json.loads(cli("validate", tmp_path, "--format", "json").stdout)
    assert data["errors"] >= 1 and data["problems"][0]["file"].endswith("a.shippable.yml")
    assert json.loads(cli("validate", tmp_path, "--json").stdout) == data
    gh = cli("validate", tmp_path, "--format", "github").stdout.splitlines()
    p = data["problems"][0]
    assert gh[0] == (f"::{'error' if p['severity'] == 'error' else 'warning'} file={p['file']},"
                     f"line={p['line']},col={p['col']}::{p['message']}")


def test_json_of_log_logs_and_token_list(sample_home):
    h = str(sample_home.path)
    assert cli("token", "add", "ci", home_env=h).returncode == 0
    tokens = json.loads(cli("token", "list", "--json", home_env=h).stdout)
    assert [t["name"] for t in tokens] == ["ci"]
    assert json.loads(cli("log", "app_build", "--json", home_env=h).stdout) == []


def test_completion_scripts_and_job_names_complete(sample_home):
    for shell in ("bash", "zsh", "fish"):
        done = cli("completion", shell)
        assert done.returncode == 0 and "_GITLINE_COMPLETE" in done.stdout
    env = {**os.environ, "GITLINE_HOME": str(sample_home.path),
           "_GITLINE_COMPLETE": "bash_complete",
           "COMP_WORDS": "gitline trigger dep", "COMP_CWORD": "2"}
    done = subprocess.run([sys.executable, "-c", "from controller.cli import main; "
                           "main(prog_name='gitline')"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert "deploy_prod" in done.stdout and "deploy_staging" in done.stdout
    assert "build_app" not in done.stdout


def test_validate_of_a_home_says_where_its_workflow_is(tmp_path):
    """A tired user validates the HOME itself: its gitline.yml is settings, not a workflow
    (it was read as one, with a warning for each of its keys)."""
    home = tmp_path / "home"
    assert cli("init", home).returncode == 0
    done = cli("validate", home)
    assert done.returncode == 1
    assert "is a Gitline home" in done.stderr and "gitline status" in done.stderr
    assert "unknown top-level key" not in done.stdout + done.stderr
