"""Git over HTTP against a real `gitline serve --listen`: the stock git client, real tokens."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.http import serve_base as serve
from tests.harness.http import token, url
from tests.harness.identity import git
from tests.harness.lines import PAINT_BY_LINE as LINE


def commit_push(work: Path, rel: str, text: str, message: str, check: bool = True):
    (work / rel).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("push", "origin", "HEAD:main", cwd=work, check=check)


@pytest.fixture
def served(home: Home, tmp_path: Path):
    alice = token(home, "alice")
    base = serve(home)
    work = tmp_path / "http-work"
    git("clone", "-q", url(base, "alice", alice), work)
    return base, alice, work


def test_clone_and_push_over_http_run_jobs_and_name_the_pusher(home, served):
    base, alice, work = served
    commit_push(work, "shippable.yml", LINE.format(color="blue"), "first line")
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    run_yml = home.show("jobs/paint/run.yml")
    assert "author: alice (token) / Ada Lovelace <ada@example.com>" in run_yml
    assert "painting blue" in home.show("jobs/paint/log.txt")
    # a second clone over HTTP sees the state branch the controller wrote
    other = work.parent / "second"
    git("clone", "-q", url(base, "alice", alice), other)
    git("fetch", "-q", "origin", "state", cwd=other)
    log = git("log", "--format=%s", "origin/state", cwd=other).stdout
    assert "paint: run 1 succeeded" in log


def test_push_to_the_state_branch_is_refused_with_a_message(home, served):
    _, _, work = served
    commit_push(work, "shippable.yml", LINE.format(color="red"), "line")
    home.wait_runs("paint", 1, timeout=60)
    before = home.git("rev-parse", "state").strip()
    refused = git("push", "-f", "origin", "HEAD:state", cwd=work, check=False)
    assert refused.returncode != 0
    assert "refs/heads/state is written only by the controller" in refused.stderr
    assert home.git("rev-parse", "state").strip() == before


def test_wrong_and_revoked_tokens_are_refused(home, served, tmp_path):
    base, _, work = served
    bob = token(home, "bob")
    ok = git("ls-remote", url(base, "bob", bob), check=False)
    assert ok.returncode == 0, ok.stderr
    wrong = git("ls-remote", url(base, "bob", "gl_wrong"), check=False)
    assert wrong.returncode != 0 and "Authentication failed" in wrong.stderr
    anonymous = git("ls-remote", base + "/config.git", check=False)
    assert anonymous.returncode != 0
    gitline("token", "remove", home.path, "bob")
    revoked = git("ls-remote", url(base, "bob", bob), check=False)
    assert revoked.returncode != 0 and "Authentication failed" in revoked.stderr
    # the API answers the same way
    req = urllib.request.Request(base + "/api/status", headers={
        "Authorization": "Basic " + base64.b64encode(f"bob:{bob}".encode()).decode()})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401
    assert err.value.headers["WWW-Authenticate"] == 'Basic realm="gitline"'


def test_two_clients_pushing_at_once_lose_nothing(home, served, tmp_path):
    base, alice, work = served
    commit_push(work, "shippable.yml", LINE.format(color="green"), "line")
    home.wait_runs("paint", 1, timeout=60)
    carol = token(home, "carol")
    clones = []
    for name, tok in (("alice", alice), ("carol", carol)):
        path = tmp_path / f"client-{name}"
        git("clone", "-q", url(base, name, tok), path)
        clones.append(path)
    results: dict[str, object] = {}

    def push(path: Path, n: int) -> None:
        (path / f"file-{n}.txt").write_text(f"{n}\n")
        git("add", "-A", cwd=path)
        git("commit", "-q", "-m", f"client {n}", cwd=path)
        for _ in range(10):  # the loser of a race fetches, rebases and pushes again
            if git("push", "origin", "HEAD:main", cwd=path, check=False).returncode == 0:
                results[str(n)] = True
                return
            git("pull", "-q", "--rebase", "origin", "main", cwd=path)
        results[str(n)] = False

    threads = [threading.Thread(target=push, args=(p, i)) for i, p in enumerate(clones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == {"0": True, "1": True}
    files = home.git("ls-tree", "--name-only", "main")
    assert "file-0.txt" in files and "file-1.txt" in files
    home.wait_idle(timeout=60)


def test_api_trigger_makes_a_commit_and_runs_the_job(home, served):
    base, alice, work = served
    commit_push(work, "shippable.yml", LINE.format(color="teal"), "line")
    home.wait_runs("paint", 1, timeout=60)
    auth = {"Authorization": "Bearer " + alice, "Content-Type": "application/json"}
    req = urllib.request.Request(base + "/api/jobs/paint/trigger", method="POST",
                                 data=json.dumps({"params": {"REASON": "api"}}).encode(),
                                 headers=auth)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 202
        sha = json.loads(resp.read())["commit"]
    assert home.git("log", "-1", "--format=%H %an", "main").split() == [sha, "alice"]
    assert home.wait_runs("paint", 2, timeout=60)[-1] == "run 2 succeeded"
    req = urllib.request.Request(base + "/api/jobs/paint/runs", headers=auth)
    runs = json.loads(urllib.request.urlopen(req, timeout=30).read())["runs"]
    assert runs[0]["number"] == 2 and runs[0]["params"] == {"REASON": "api"}
    assert "alice" in runs[0]["cause"]
