"""gitRepo URLs that would be git options or commands, against a real `gitline serve`.

Before: `url: "--upload-pack=touch X; false"` was handed to `git fetch` with no `--`, so
the controller ran the command on every poll, with no job needed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from controller.core.loader import load_text
from controller.core.remotes import url_problem
from tests.harness.commands import gitline, run
from tests.harness.home import Home

LINE = """\
resources:
  - name: lib
    type: gitRepo
    versionTemplate:
      url: "{url}"
      pollSeconds: 1
jobs:
  - name: build
    type: runSh
    steps:
      - IN: lib
      - TASK: [echo built]
"""


@pytest.mark.parametrize("url", [
    "--upload-pack=touch /tmp/x; false", "-oProxyCommand=x", "ext::sh -c touch% /tmp/x",
    "fd::3", "https://h/x\nBcc", "gopher://h/x", "http://", "ftp://h/x.git"])
def test_the_loader_refuses_a_url_that_is_no_remote_at_its_line(url: str) -> None:
    text = LINE.replace('"{url}"', json.dumps(url))
    wf = load_text("shippable.yml", text)
    bad = [p for p in wf.problems if p.severity == "error"]
    assert bad and "url" in bad[0].message
    assert bad[0].location.line == 5
    # lib stays a placeholder (no definition: the url reaches nothing), inconsistent, and
    # the job that takes it waits: nothing polls, fetches or runs with it
    assert wf.resources["lib"].definition == {} and wf.resources["lib"].tracks_path is None
    assert wf.inconsistent["lib"] == f"{bad[0].message} (shippable.yml:5:7)"
    assert wf.inconsistent["build"] == "input 'lib' is not loaded (shippable.yml:11)"


@pytest.mark.parametrize("url", [
    "https://github.com/org/lib.git", "http://h:8080/x.git", "ssh://git@h/x.git",
    "git://h/x.git", "git@github.com:org/lib.git"])
def test_real_remotes_pass(url: str) -> None:
    assert url_problem(url, allow_local=False) is None
    assert not load_text("shippable.yml", LINE.format(url=url)).problems


def test_local_paths_need_the_setting() -> None:
    assert url_problem("/srv/lib.git", allow_local=False)
    assert url_problem("file:///srv/lib.git", allow_local=False)
    assert url_problem("/srv/lib.git", allow_local=True) is None


def test_validate_reports_an_option_url_at_its_line(tmp_path: Path) -> None:
    f = tmp_path / "shippable.yml"
    f.write_text(LINE.format(url="--upload-pack=touch /tmp/x; false"))
    done = gitline("validate", f, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shippable.yml:5" in done.stdout + done.stderr


def test_a_pushed_option_url_runs_no_command_in_the_controller(home: Home,
                                                                tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    home.start()
    home.write("shippable.yml", LINE.format(url=f"--upload-pack=touch {marker}; false"))
    home.push("an option as url")
    home.wait_idle()
    time.sleep(3)  # several poll intervals
    assert not marker.exists()
    problems = json.dumps(home.status())
    assert "starts with '-'" in problems


def test_a_local_repository_is_refused_unless_allowed(home: Home, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "lib"
    run("git", "init", "-q", "-b", "main", lib)
    run("git", "-C", lib, "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q",
        "--allow-empty", "-m", "one")
    monkeypatch.delenv("GITLINE_ALLOW_LOCAL_REPOS")
    home.start()
    home.write("shippable.yml", LINE.format(url=str(lib)))
    home.push("a local repository")
    time.sleep(4)
    assert home.runs("build") == []
    assert "allow_local_repos" in home.server_log()
