"""A push is answered in the pusher's terminal (`remote:` lines) before anything runs:
problems at file:line:col, new versions, the jobs that will run and why, trigger files
accepted or refused; `reject_invalid: true` refuses a workflow with errors. Real pushes
with the stock git client, by path (the pre-receive hook, with and without a controller to
ask) and over HTTP (a real `gitline serve --listen` with a token); `gitline plan` offline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.commands import gitline, run
from tests.harness.home import Home
from tests.harness.http import serve_base, token
from tests.harness.http import url as clone_url
from tests.harness.wait import wait_for

SAMPLE = Path(__file__).resolve().parents[2] / "sample-repo"
TYPO = ("      - IN: build_app\n", "      - IN: build_ap\n")  # test_app's input


def remote(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines the server wrote to the pusher, without git's `remote: ` and padding."""
    return [line[len("remote: "):].rstrip() for line in result.stderr.splitlines()
            if line.startswith("remote: ")]


def push(home: Home, message: str, remote_name: str = "origin",
         check: bool = True) -> subprocess.CompletedProcess[str]:
    run("git", "add", "-A", cwd=home.work)
    run("git", "commit", "-q", "-m", message, cwd=home.work)
    done = run("git", "-c", "credential.helper=", "push", remote_name, "HEAD:main",
               cwd=home.work, check=False)
    assert (done.returncode == 0) == check, done.stderr
    return done


def typo_line() -> int:
    """The line of test_app's `IN: build_app` in the sample (where the typo goes)."""
    text = (SAMPLE / "shippable.yml").read_text()
    return text[:text.index(TYPO[0])].count("\n") + 1


def with_typo(home: Home) -> None:
    path = home.work / "shippable.yml"
    path.write_text(path.read_text().replace(*TYPO))


def break_yaml(home: Home) -> int:
    """Append a line YAML cannot read; returns its line number."""
    path = home.work / "shippable.yml"
    text = path.read_text()
    path.write_text(text + "  broken: [\n")
    return text.count("\n") + 1


def tip(home: Home) -> str:
    return home.git("rev-parse", "main", check=False).strip()


def test_by_path_the_plan_of_the_sample_then_an_unresolved_name_at_its_line(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    lines = remote(push(home, "sample line"))
    assert lines[0] == "gitline: 11 resources, 5 jobs; 0 errors, 0 warnings"
    assert "  app_src: version 1 (first version)" in lines
    assert "gitline: 3 jobs will run:" in lines
    sha = tip(home)[:7]
    at = lines.index("gitline: 3 jobs will run:")
    assert lines[at + 1:at + 4] == [f"  build_app: app_src changed: version 1 ({sha})",
                                    "  test_app: after build_app",
                                    "  deploy_staging: after test_app"]

    with_typo(home)
    lines = remote(push(home, "typo"))
    assert lines[1] == (f"  shippable.yml:{typo_line()}:9: error: unresolved input 'build_ap'"
                        " of job 'test_app'; did you mean 'build_app'?")
    assert "gitline: what the errors touch waits (inconsistent); the rest runs" in lines


def test_by_path_trigger_files_are_accepted_or_refused_with_the_reason(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    push(home, "sample line")
    home.write("triggers/build_app", "REASON: hotfix\n")
    home.write("triggers/no_such_job", "")
    lines = remote(push(home, "two triggers"))
    assert "  triggers/build_app: accepted: build_app runs once (REASON=hotfix)" in lines
    assert "  triggers/no_such_job: refused: no job named 'no_such_job' in the workflow" in lines


def test_by_path_reject_invalid_refuses_broken_yaml_with_its_line(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    push(home, "sample line")
    before = tip(home)
    with (home.path / "gitline.yml").open("a") as f:
        f.write("reject_invalid: true\n")
    line = break_yaml(home)
    done = push(home, "broken", check=False)
    lines = remote(done)
    assert lines[0] == "gitline: the pushed workflow does not load: 1 error, 0 warnings"
    assert lines[1].startswith(f"  shippable.yml:{line}:")
    assert lines[-1].startswith("gitline: push refused: the workflow has errors")
    assert "[remote rejected] HEAD -> main (pre-receive hook declined)" in done.stderr
    assert tip(home) == before


def test_by_path_without_reject_invalid_broken_yaml_is_taken_and_the_last_good_runs(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    home.start()
    push(home, "sample line")
    home.wait_runs("deploy_staging", 1, timeout=90)
    good = tip(home)
    break_yaml(home)
    lines = remote(push(home, "broken"))
    assert f"gitline: the last good workflow ({good[:7]}) keeps running" in lines
    assert "gitline: no job will run" in lines


def test_by_path_a_running_controller_answers_through_its_socket(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    home.start()
    wait_for(lambda: (home.path / "answers.sock").exists(), 30, "HOME/answers.sock")
    lines = remote(push(home, "sample line"))
    assert "  test_app: after build_app" in lines
    sha = tip(home)[:7]
    assert re.search(f"answered the push of {sha} by path in [0-9]+ ms: 11 resources, 5 jobs",
                     home.server_log())
    home.wait_runs("deploy_staging", 1, timeout=90)
    with (home.path / "gitline.yml").open("a") as f:  # read at each push: no restart
        f.write("reject_invalid: true\n")
    with_typo(home)
    done = push(home, "typo", check=False)
    assert f"  shippable.yml:{typo_line()}:9: error: unresolved input 'build_ap' of job " \
           "'test_app'; did you mean 'build_app'?" in remote(done)
    assert "[remote rejected]" in done.stderr
    assert re.search("by path in [0-9]+ ms: refused", home.server_log())
    assert "answering a push" not in home.server_log()


def serve_http(home: Home) -> str:
    """Serve HOME over HTTP and add it as the clone's remote `http` (alice's token)."""
    tok = token(home, "alice")
    url = clone_url(serve_base(home), "alice", tok)
    run("git", "remote", "add", "http", url, cwd=home.work)
    return url


def test_over_http_the_plan_and_an_unresolved_name_then_reject_invalid(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    serve_http(home)
    lines = remote(push(home, "sample line", "http"))
    sha = tip(home)[:7]
    assert f"  build_app: app_src changed: version 1 ({sha})" in lines
    assert "  deploy_staging: after test_app" in lines
    home.wait_runs("deploy_staging", 1, timeout=90)

    with_typo(home)
    lines = remote(push(home, "typo", "http"))
    assert lines[1] == (f"  shippable.yml:{typo_line()}:9: error: unresolved input 'build_ap'"
                        " of job 'test_app'; did you mean 'build_app'?")
    with (home.path / "gitline.yml").open("a") as f:
        f.write("reject_invalid: true\n")
    before = tip(home)
    line = break_yaml(home)
    done = push(home, "broken", "http", check=False)
    assert remote(done)[1].startswith(f"  shippable.yml:{line}:")
    assert "[remote rejected] HEAD -> main (gitline: the workflow has errors " \
           "(reject_invalid: true))" in done.stderr
    assert tip(home) == before


def test_gitline_plan_answers_offline_for_a_rev_and_for_a_working_tree(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    planned = gitline("plan", "--work", home.work)
    assert "  test_app: after build_app" in planned.stdout.splitlines()
    assert "no origin/state in this clone" in planned.stderr
    push(home, "sample line")
    data = json.loads(gitline("plan", home.path, "main", "--json").stdout)
    assert [r["job"] for r in data["runs"]] == ["build_app", "test_app", "deploy_staging"]
    assert subprocess.run(["git", "-C", str(home.work), "status", "--porcelain"],
                          capture_output=True, text=True).stdout == ""
    with_typo(home)  # not committed: --work plans the working tree
    planned = gitline("plan", "--work", home.work, check=False)
    assert planned.returncode == 1
    assert f"shippable.yml:{typo_line()}:9: error: unresolved input 'build_ap'" \
        in planned.stdout
    assert run("git", "status", "--porcelain", cwd=home.work).stdout == " M shippable.yml\n"


@pytest.mark.parametrize("rev", ["no-such-rev"])
def test_gitline_plan_of_an_unknown_rev_is_a_usage_error(home, rev):
    done = gitline("plan", home.path, rev, check=False)
    assert done.returncode == 2
    assert f"no commit '{rev}'" in done.stderr


def test_the_readme_pre_push_hook_stops_a_push_with_errors_before_it_leaves(home):
    shutil.copytree(SAMPLE, home.work, dirs_exist_ok=True)
    push(home, "sample line")
    hook = home.work / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\ngit fetch -q origin state 2>/dev/null\n"
                    f'PYTHONPATH={SAMPLE.parent} exec {sys.executable} -m controller.cli plan '
                    '--work "$(git rev-parse --show-toplevel)"\n')  # `gitline`, this copy
    hook.chmod(0o755)
    before = tip(home)
    with_typo(home)
    done = push(home, "typo", check=False)
    assert f"shippable.yml:{typo_line()}:9: error: unresolved input 'build_ap'" \
        in done.stdout + done.stderr
    assert "failed to push some refs" in done.stderr
    assert tip(home) == before
