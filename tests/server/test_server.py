"""The controller's HTTP side in-process, on a real 127.0.0.1 port, with the real git client.

The watcher is switched off and the safety-net poll is long, so a job that runs after a
push over HTTP proves the push itself woke the loop (post-receive), not the file watcher.
"""

from __future__ import annotations

import json
import os
import time
import types
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.server.auth import TokenStore
from tests.harness.inprocess import in_process
from tests.harness.lines import PAINT_LINE
from tests.harness.wait import wait_for

LINE = PAINT_LINE.format(color="blue")


class Served(types.SimpleNamespace):
    def url(self, user="alice", token=None):
        tok = token or self.token
        return self.base.replace("http://", f"http://{user}:{tok}@") + "/config.git"

    def get(self, path, token=None):
        req = urllib.request.Request(self.base + path, headers={
            "Authorization": f"Bearer {token or self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                body = resp.read()
                ctype = resp.headers["Content-Type"]
                return resp.status, json.loads(body) if "json" in ctype else body.decode()
        except urllib.error.HTTPError as err:
            body = err.read()
            return err.code, json.loads(body) if body.startswith(b"{") else body.decode()


@pytest.fixture
def served(tmp_home: Path) -> Iterator[Served]:
    token = TokenStore(tmp_home).add("alice")
    with in_process(tmp_home) as ctl:
        yield Served(ctl=ctl, base=ctl.http.url, token=token, home=tmp_home)


def test_a_push_over_http_reconciles_at_once_without_the_watcher(served, git, tmp_path):
    work = tmp_path / "work"
    git("clone", "-q", served.url(), str(work))
    (work / "shippable.yml").write_text(LINE)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "line", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)

    def ran():
        status, body = served.get("/api/jobs/paint/runs")
        return status == 200 and [r for r in body["runs"] if r["status"] == "succeeded"]

    runs = wait_for(ran, 60, "paint to run")
    assert "alice (token) / Ada Lovelace <ada@example.com>" in runs[0]["cause"]

    status, report = served.get("/api/status")
    assert status == 200 and report["jobs"]["paint"]["lastRun"]["status"] == "succeeded"
    assert report["upstream"] is None
    status, body = served.get("/api/resources/cfg/versions")
    assert status == 200 and body["versions"][0]["values"] == {"params": {"COLOR": "blue"}}
    status, text = served.get("/api/jobs/paint/log")
    assert status == 200 and "painting blue" in text
    assert served.get("/api/jobs/paint/runs/1/log") == (200, text)
    assert served.get("/api/jobs/nosuch/runs")[0] == 404
    assert served.get("/api/resources/nosuch/versions")[0] == 404
    assert served.get("/api/jobs/paint/runs/99/log")[0] == 404
    assert served.get("/api/nothing")[0] == 404
    assert served.get("/api/jobs/paint/trigger")[0] == 405
    assert served.get("/api/status", token="gl_bad")[0] == 401
    assert "GET /api/status" in served.get("/api")[1]["endpoints"]


def test_the_state_branch_cannot_be_pushed_or_deleted(served, git, tmp_path):
    work = tmp_path / "work"
    git("clone", "-q", served.url(), str(work))
    (work / "a.txt").write_text("a\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "a", cwd=work)
    refused = git("push", "origin", "HEAD:refs/heads/state", cwd=work, check=False)
    assert refused.returncode != 0
    assert "[remote rejected]" in refused.stderr
    assert "refs/heads/state is written only by the controller; push to main instead" \
        in refused.stderr
    # other refs of the same push still land, as with git's own update hook
    mixed = git("push", "origin", "HEAD:main", "HEAD:state", cwd=work, check=False)
    assert mixed.returncode != 0
    assert git.out("ls-remote", served.url(), "refs/heads/main").startswith(
        git.out("rev-parse", "HEAD", cwd=work))


def test_anonymous_read_allows_clone_but_never_push(tmp_home, git, tmp_path):
    TokenStore(tmp_home).add("alice")
    with in_process(tmp_home, anonymous_read=True) as ctl:
        work = tmp_path / "anon"
        git("clone", "-q", ctl.http.url + "/config.git", str(work))
        (work / "a.txt").write_text("a\n")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "a", cwd=work)
        push = git("push", "origin", "HEAD:main", cwd=work, check=False)
        assert push.returncode != 0


def _listening_sockets() -> set[str]:
    """Inodes of the TCP sockets this process listens on (state 0A in /proc/net/tcp*)."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            rows = [line.split() for line in fh.readlines()[1:]]
        listening |= {row[9] for row in rows if row[3] == "0A"}
    mine = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            mine.add(target[len("socket:["):-1])
    return mine & listening


def test_listen_none_turns_http_off(tmp_home):
    before = _listening_sockets()
    with in_process(tmp_home, listen="none") as ctl:
        time.sleep(0.5)
        assert ctl.http is None
        assert _listening_sockets() - before == set()  # no port open: nothing to connect to
        assert (tmp_home / "answers.sock").exists()  # while the controller serves pushes
