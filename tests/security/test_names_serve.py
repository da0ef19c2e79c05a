"""`name: "r\\n"` pushed to a real `gitline serve`: before the names were matched whole it
passed the check, its records never read back, and the controller committed to the state
branch on every pass. Now the push is an error at its line and nothing else changes."""

from __future__ import annotations

import time

from tests.harness.commands import gitline, run
from tests.harness.home import Home
from tests.harness.lines import PAINT_LINE
from tests.harness.wait import wait_for

BAD = """\
  - name: "r\\n"
    type: params
    versionTemplate:
      params: {A: "1"}
"""
BAD_JOB = """\
  - name: "j\\n"
    type: runSh
    steps:
      - IN: cfg
      - TASK: {script: [echo newline]}
"""


def state_commits(home: Home) -> int:
    return int(home.git("rev-list", "--count", "state").strip())


def test_a_name_with_a_newline_is_an_error_and_the_state_branch_stays_still(home: Home) -> None:
    home.start()
    good = PAINT_LINE.format(color="red")
    home.write("shippable.yml", good)
    home.push("good line")
    assert home.wait_runs("paint", 1) == ["run 1 succeeded"]
    home.wait_idle()

    broken = good.replace("jobs:\n", BAD + "jobs:\n").rstrip("\n") + "\n" + BAD_JOB
    lines = broken.splitlines()
    res_line = lines.index('  - name: "r\\n"') + 1
    job_line = lines.index('  - name: "j\\n"') + 1
    home.write("shippable.yml", broken)
    home.push("names with a newline")
    wait_for(lambda: home.status()["config"]["problems"], what="the problem recorded")
    home.wait_idle()
    problems = home.status()["config"]["problems"]
    for line in (res_line, job_line):
        assert any(p.startswith(f"shippable.yml:{line}:") for p in problems), problems
    assert f"shippable.yml:{res_line}" in gitline("status", home.path).stdout
    (home.path / "check.yml").write_text(broken)
    done = gitline("validate", home.path / "check.yml", check=False)
    assert done.returncode == 1 and f"check.yml:{job_line}" in done.stdout + done.stderr

    # several reconcile passes (--poll 2): no commit keeps coming
    time.sleep(3)
    before = state_commits(home)
    time.sleep(5)
    assert state_commits(home) == before, home.subjects()[:10]
    tree = home.git("ls-tree", "-r", "--name-only", "state")
    assert "r\n" not in tree and '"r\\n' not in tree and '"j\\n' not in tree, tree

    # the last good workflow keeps running
    home.write("triggers/paint", "REASON: still-alive\n")
    home.push("paint anyway")
    assert home.wait_runs("paint", 2)[-1] == "run 2 succeeded"
    home.wait_idle()
    fsck = run("git", "--git-dir", home.repo, "fsck", "--strict", check=False)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
