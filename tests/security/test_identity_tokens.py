"""Token scopes, constant-time lookup, and what a pusher may update (issue #9).

Against a real `gitline serve --listen` with the real git client.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from controller.server.auth import ANONYMOUS, Principal
from controller.server.gitserver import RefRules
from tests.harness.commands import run
from tests.harness.http import serve_base as serve
from tests.harness.http import token, url
from tests.harness.identity import commit, git
from tests.harness.lines import PAINT_LINE


def _post(base: str, path: str, tok: str) -> int:
    req = urllib.request.Request(base + path, method="POST", data=b"{}", headers={
        "Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_scopes_are_checked_on_every_request(home, tmp_path):
    reader = token(home, "reader", "--scope", "read")
    writer = token(home, "writer")  # default: read, push, trigger
    base = serve(home)
    work = tmp_path / "reader-work"
    git("clone", "-q", url(base, "reader", reader), work)  # read may clone
    commit(work, "shippable.yml", PAINT_LINE.format(color="red"), "line")
    refused = git("push", "origin", "HEAD:main", cwd=work, check=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert home.git("rev-parse", "--verify", "-q", "main", check=False).strip() == ""

    git("push", "-q", url(base, "writer", writer), "HEAD:main", cwd=work)
    home.wait_runs("paint", 1, timeout=60)
    assert _post(base, "/api/jobs/paint/trigger", reader) == 403  # read cannot trigger
    assert _post(base, "/api/jobs/paint/trigger", writer) == 202


def test_a_pusher_updates_the_config_branch_only(home, tmp_path):
    writer = token(home, "writer")
    admin = token(home, "admin", "--scope", "admin")
    base = serve(home)
    work = tmp_path / "w"
    git("clone", "-q", url(base, "writer", writer), work)
    commit(work, "shippable.yml", PAINT_LINE.format(color="red"), "line")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    home.wait_runs("paint", 1, timeout=60)
    for refspec, message in [
            ("HEAD:refs/gitline/x", "refs/gitline/x is written only by the controller"),
            ("HEAD:refs/heads/other", "only main takes pushes"),
            (":main", "refs/heads/main cannot be deleted"),
            ("HEAD:refs/tags/v1", "tags need a token with the admin scope")]:
        refused = git("push", "origin", refspec, cwd=work, check=False)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    refs = home.git("for-each-ref", "--format=%(refname)")
    assert "refs/gitline/x" not in refs and "refs/heads/other" not in refs
    assert "refs/tags/v1" not in refs and "refs/heads/main" in refs
    git("push", "-q", url(base, "admin", admin), "HEAD:refs/tags/v1", cwd=work)
    assert "refs/tags/v1" in home.git("for-each-ref", "--format=%(refname)")

    # the same rules for a push by path (the pre-receive hook)
    local = home.work
    run("git", "pull", "-q", "origin", "main", cwd=local)
    for refspec in ("HEAD:refs/gitline/x", ":main", "HEAD:refs/heads/other"):
        out = run("git", "push", "origin", refspec, cwd=local, check=False)
        assert out.returncode != 0 and "gitline:" in out.stderr


def _evil_commit(work: Path, entry: str) -> str:
    """A commit whose root tree has an entry named `entry`, made with plumbing."""
    blob = run("git", "rev-parse", "HEAD:shippable.yml", cwd=work).stdout.strip()
    sub = _mktree(work, f"100644 blob {blob}\tconfig\n")
    root = _mktree(work, f"100644 blob {blob}\tshippable.yml\n040000 tree {sub}\t{entry}\n")
    head = run("git", "rev-parse", "HEAD", cwd=work).stdout.strip()
    return run("git", "commit-tree", root, "-p", head, "-m", f"evil {entry}",
               cwd=work).stdout.strip()


def _mktree(work: Path, listing: str) -> str:
    # `git mktree` checks names; hash-object --literally writes any tree, as an attacker can
    entries = b""
    for line in listing.splitlines():
        meta, name = line.split("\t")
        mode, _, sha = meta.split()
        entries += mode.lstrip("0").encode() + b" " + name.encode() + b"\0" + bytes.fromhex(sha)
    out = subprocess.run(["git", "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
                         cwd=work, input=entries, capture_output=True, check=True)
    return out.stdout.decode().strip()


@pytest.mark.parametrize("entry", ["..", ".git", ".GIT"])
def test_a_tree_with_dotdot_or_dotgit_is_refused(home, tmp_path, entry):
    writer = token(home, "writer")
    base = serve(home)
    work = tmp_path / "w"
    git("clone", "-q", url(base, "writer", writer), work)
    commit(work, "shippable.yml", PAINT_LINE.format(color="red"), "line")
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    before = home.git("rev-parse", "main").strip()
    evil = _evil_commit(work, entry)
    refused = git("push", "origin", f"{evil}:refs/heads/main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "gitline: refused" in refused.stderr and "tree entry" in refused.stderr
    assert home.git("rev-parse", "main").strip() == before
    # by path: receive.fsckObjects
    local = run("git", "push", str(home.repo), f"{evil}:refs/heads/main", cwd=work,
                check=False)
    assert local.returncode != 0 and ("fsck" in local.stderr or "dotgit" in local.stderr
                                      or "dotdot" in local.stderr.lower()), local.stderr
    assert home.git("rev-parse", "main").strip() == before


def test_wrong_tokens_in_parallel_do_not_block_a_valid_one(home, tmp_path):
    valid = token(home, "alice")
    for n in range(20):  # many stored tokens: a scan of slow hashes would cost n each
        token(home, f"user{n}")
    base = serve(home)
    stop = threading.Event()

    def attack() -> None:
        while not stop.is_set():
            for wrong in ("gl_0123456789ab_" + "x" * 32, "gl_" + "y" * 32, "not-a-token"):
                req = urllib.request.Request(base + "/api/status",
                                             headers={"Authorization": f"Bearer {wrong}"})
                with contextlib.suppress(urllib.error.HTTPError, OSError):
                    urllib.request.urlopen(req, timeout=30)

    attackers = [threading.Thread(target=attack, daemon=True) for _ in range(20)]
    for t in attackers:
        t.start()
    try:
        time.sleep(1)
        started = time.monotonic()
        req = urllib.request.Request(base + "/api/status",
                                     headers={"Authorization": f"Bearer {valid}"})
        with urllib.request.urlopen(req, timeout=10) as resp:  # was 24 s and more
            assert resp.status == 200 and "jobs" in json.loads(resp.read())
        assert time.monotonic() - started < 10
    finally:
        stop.set()
        for t in attackers:
            t.join(timeout=30)


def test_upstream_mode_takes_no_direct_pushes_unless_allowed():
    locked = RefRules("main", "state", upstream=True)
    assert "follows the upstream" in locked.refusal("0" * 40, "1" * 40, "refs/heads/main",
                                                   ANONYMOUS)
    allowed = RefRules("main", "state", upstream=True, allow_push_with_upstream=True)
    assert allowed.refusal("0" * 40, "1" * 40, "refs/heads/main", ANONYMOUS) == ""
    admin = Principal("root", frozenset({"admin"}))
    assert locked.refusal("0" * 40, "1" * 40, "refs/tags/v1", admin) == ""
