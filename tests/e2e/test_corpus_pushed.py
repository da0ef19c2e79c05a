"""Every corpus folder pushed to a running controller, with its cloud commands replaced by
`echo`, as a user migrating from Shippable would: nothing crashes, every job runs or says
why it does not, and `gitline validate` agrees with what the controller loaded."""

from __future__ import annotations

import io
import re
import shlex
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.harness.commands import gitline, run
from tests.harness.corpus import SHIPPABLE
from tests.harness.wait import wait_for

CORPUS = SHIPPABLE / "repos"

ANCHOR = re.compile(r"(^|\s)&[\w-]+", re.M)

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS} (../shared is absent)")


# why a job that has not started waits: it cannot run here, or cannot yet ("never run"
# is not one: that job could run and did not)
CANNOT = ("inconsistent: ", "no triggering input", "input ", "waiting for ")
FINAL = re.compile(r"(.+): run [0-9]+ (succeeded|failed|timed out|cancelled|interrupted)")


def says_why_not(reason: str | None) -> bool:
    return bool(reason) and (reason.startswith(CANNOT) or reason.endswith("not runnable here"))


def echo_scripts(node, in_script: bool = False) -> None:
    """Replace every script line with `echo '<line>'`, in place (anchors stay shared)."""
    if isinstance(node, dict):
        for key in list(node):
            node[key] = _echoed(node[key]) if key == "script" else node[key]
            echo_scripts(node[key], key == "script")
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if in_script and isinstance(item, str) and not item.startswith("echo 'cloud: "):
                node[i] = _echo(item)
            else:
                echo_scripts(item, in_script)


def _echo(line: str) -> str:
    return "echo " + shlex.quote("cloud: " + line)


def _echoed(value):
    return _echo(value) if isinstance(value, str) else value


def echoed_copy(folder: Path, dest: Path) -> None:
    """Copy the folder's files; YAML without anchors gets its scripts echoed."""
    for src in sorted(p for p in folder.rglob("*") if p.is_file()):
        target = dest / src.relative_to(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        yaml = YAML()
        yaml.allow_duplicate_keys = True
        try:
            text = src.read_text(encoding="utf-8")
            if ANCHOR.search(text):  # ruamel would drop anchors only other files use
                raise ValueError("has anchors")
            data = yaml.load(text)
            echo_scripts(data)
            out = io.StringIO()
            yaml.dump(data, out)
            target.write_text(out.getvalue(), encoding="utf-8")
        except Exception:  # aliases to another file, odd YAML: pushed as written
            shutil.copyfile(src, target)


@pytest.mark.timeout(900)
def test_every_corpus_folder_runs_through_the_controller(home):
    home.start("--workers", "4")
    summary = []
    for folder in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        for child in home.work.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        echoed_copy(folder, home.work)
        head = home.push(f"corpus {folder.name}")
        wait_for(lambda h=head: home.status()["config"]["processed"] == h, timeout=60,
                 what=f"{folder.name} processed")
        status = home.status()
        lint = gitline("validate", home.work, check=False)
        counted = lint.stderr.strip().splitlines()[-1]
        assert counted.startswith(
            f"{len(status['resources'])} resources, {len(status['jobs'])} jobs"), (
            folder.name, counted)
        for name, job in status["jobs"].items():  # ran, or cannot run (yet): never idle
            assert job["lastRun"] or job["active"] or says_why_not(job["waiting"]), (
                folder.name, name, job["waiting"])
        summary.append((folder.name, len(status["jobs"]),
                        [n for n, j in status["jobs"].items() if j["lastRun"] or j["active"]]))
    home.wait_idle(timeout=120)
    log = home.server_log()
    assert "reconcile pass failed" not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0
    ran = sum(len(r) for _, _, r in summary)
    print(f"corpus through the controller: {len(summary)} folders, "
          f"{sum(j for _, j, _ in summary)} jobs, {ran} started")
    assert ran > 0
    ended = {m[1] for m in map(FINAL.match, home.subjects()) if m}
    started = {n for _, _, names in summary for n in names}
    assert started <= ended, started - ended  # every run started reached an outcome
