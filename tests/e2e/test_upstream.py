"""Upstreams, webhooks and gitRepo resources elsewhere, against real servers.

The upstream and the second repository are served by a real `git daemon` the test starts;
webhooks are real HTTP requests, signed as GitHub, GitLab and Gitea sign them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.commands import gitline, run
from tests.harness.home import Home
from tests.harness.http import raw, status_of
from tests.harness.http import serve_base as serve
from tests.harness.lines import PAINT_LINE
from tests.harness.wait import free_port, wait_for

HOOK_KEY = "s3cret-hook"
GIT_HOOK_KEY = "g1t-hook"

LINE = PAINT_LINE


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A git daemon serving tmp/served over git:// with push enabled."""
    base = tmp_path / "served"
    base.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
         f"--base-path={base}", f"--port={port}", "--listen=127.0.0.1", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            return False

    wait_for(up, 30, "git daemon")
    yield base, f"git://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def bare(base: Path, name: str) -> Path:
    path = base / name
    run("git", "init", "-q", "--bare", "-b", "main", path)
    (path / "git-daemon-export-ok").touch()
    return path


def clone_push(url: str, work: Path, files: dict[str, str], message: str,
               force: bool = False) -> str:
    if not work.exists():
        run("git", "clone", "-q", url, work)
        run("git", "checkout", "-q", "-B", "main", cwd=work)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    run("git", "add", "-A", cwd=work)
    if force:
        run("git", "commit", "-q", "--amend", "-m", message, cwd=work)
    else:
        run("git", "commit", "-q", "-m", message, cwd=work)
    run("git", "push", "-q", *(["-f"] if force else []), "origin", "HEAD:main", cwd=work)
    return run("git", "rev-parse", "HEAD", cwd=work).stdout.strip()


def configure(home: Home, settings: str, secrets: dict[str, str]) -> None:
    with (home.path / "gitline.yml").open("a") as f:
        f.write(settings)
    path = home.path / "secrets.yml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in secrets.items()))
    os.chmod(path, 0o600)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def api(base: str, tok: str, path: str) -> dict:
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {tok}"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def push_payload(url: str, sha: str) -> bytes:
    return json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"clone_url": url}}).encode()


def test_home_follows_an_upstream_on_webhooks_and_pushes_state_back(home, daemon, tmp_path):
    base, git_url = daemon
    upstream = bare(base, "team.git")
    url = f"{git_url}/team.git"
    dev = tmp_path / "dev"
    clone_push(url, dev, {"shippable.yml": LINE.format(color="blue")}, "first")
    # a long interval: after the first fetch, only webhooks bring news quickly
    configure(home, f"upstream: {url}\nupstream_poll_seconds: 600\npush_state: true\n"
                    "webhook_secret: githook\n", {"githook": GIT_HOOK_KEY})
    tok = gitline("token", "add", home.path, "ops").stdout.strip()
    http = serve(home)
    assert home.wait_runs("paint", 1, timeout=60) == ["run 1 succeeded"]
    # the state branch lives where the team's code lives
    wait_for(lambda: "paint: run 1 succeeded" in run(
        "git", "--git-dir", upstream, "log", "--format=%s", "state", check=False).stdout,
        60, "state pushed to the upstream")

    # GitHub: unsigned and wrongly signed hooks change nothing
    sha = clone_push(url, dev, {"shippable.yml": LINE.format(color="red")}, "red")
    body = push_payload(url, sha)
    assert post(http + "/hooks/git", body, {"X-GitHub-Event": "push"})[0] == 401
    assert post(http + "/hooks/git", body, {"X-GitHub-Event": "push",
                "X-Hub-Signature-256": "sha256=" + sign("wrong", body)})[0] == 401
    status, reply = post(http + "/hooks/git", body, {
        "X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(GIT_HOOK_KEY, body)})
    assert (status, reply) == (202, {"fetching": ["upstream"]})
    assert home.wait_runs("paint", 2, timeout=60)[-1] == "run 2 succeeded"
    assert "painting red" in home.show("jobs/paint/log.txt")

    # GitLab (token) and Gitea (hex signature)
    sha = clone_push(url, dev, {"shippable.yml": LINE.format(color="green")}, "green")
    gl = json.dumps({"object_kind": "push", "ref": "refs/heads/main", "checkout_sha": sha,
                     "project": {"git_http_url": url}}).encode()
    assert post(http + "/hooks/git", gl, {"X-Gitlab-Event": "Push Hook",
                                           "X-Gitlab-Token": "nope"})[0] == 401
    assert post(http + "/hooks/git", gl, {"X-Gitlab-Event": "Push Hook",
                                           "X-Gitlab-Token": GIT_HOOK_KEY})[0] == 202
    assert home.wait_runs("paint", 3, timeout=60)[-1] == "run 3 succeeded"
    sha = clone_push(url, dev, {"shippable.yml": LINE.format(color="plum")}, "plum")
    body = push_payload(url, sha)
    assert post(http + "/hooks/git", body, {"X-Gitea-Event": "push",
                                             "X-Gitea-Signature": sign(GIT_HOOK_KEY, body)})[0] \
        == 202
    assert home.wait_runs("paint", 4, timeout=60)[-1] == "run 4 succeeded"

    # a force-pushed (rewritten) upstream is followed and reported, not a crash
    sha = clone_push(url, dev, {"shippable.yml": LINE.format(color="gold")}, "plum, rewritten",
                     force=True)
    body = push_payload(url, sha)
    post(http + "/hooks/git", body, {"X-GitHub-Event": "push",
                                     "X-Hub-Signature-256": "sha256=" + sign(GIT_HOOK_KEY, body)})
    wait_for(lambda: home.git("rev-parse", "main").strip() == sha, 60, "main reset")
    assert home.wait_runs("paint", 5, timeout=60)[-1] == "run 5 succeeded"
    report = api(http, tok, "/api/status")["upstream"]
    assert report["rewrites"] and report["lastError"] == ""
    assert "rewritten" in home.server_log()
    assert home.proc is not None and home.proc.poll() is None


GITREPO_LINE = """\
resources:
  - name: lib
    type: gitRepo
    versionTemplate:
      sourceName: {url}
      branch: main
      pollSeconds: 1
  - name: hook
    type: webhook
    integration: deploy_hook
jobs:
  - name: use_lib
    type: runSh
    steps:
      - IN: lib
      - TASK:
          script:
            - cat "$LIB_PATH/gitRepo/hello.txt"
            - ./IN/lib/gitRepo/run.sh || "$LIB_PATH/gitRepo/run.sh"
            - echo "commit=$LIB_COMMIT branch=$LIB_BRANCH msg=$LIB_COMMIT_MESSAGE"
            - echo "by=$LIB_COMMITTER"
  - name: on_hook
    type: runSh
    steps:
      - IN: hook
      - TASK:
          script:
            - echo "payload=$HOOK_PAYLOAD"
"""


def test_gitrepo_resource_follows_a_second_repository(home, daemon, tmp_path):
    base, git_url = daemon
    bare(base, "lib.git")
    url = f"{git_url}/lib.git"
    dev = tmp_path / "libdev"
    first = clone_push(url, dev, {"hello.txt": "hello v1\n", "run.sh": "#!/bin/sh\necho ran\n"},
                       "lib one")
    (dev / "run.sh").chmod(0o755)
    run("git", "add", "-A", cwd=dev)
    run("git", "commit", "-q", "-m", "exec bit", cwd=dev)
    run("git", "push", "-q", "origin", "HEAD:main", cwd=dev)
    first = run("git", "rev-parse", "HEAD", cwd=dev).stdout.strip()
    configure(home, "webhook_secret: githook\n",
              {"githook": GIT_HOOK_KEY, "deploy_hook": HOOK_KEY})
    http = serve(home)
    home.write("shippable.yml", GITREPO_LINE.format(url=url))
    home.push("use lib")
    assert home.wait_runs("use_lib", 1, timeout=60) == ["run 1 succeeded"]
    log = home.show("jobs/use_lib/log.txt")
    assert "hello v1" in log and "ran" in log
    assert f"commit={first} branch=main msg=exec bit" in log
    assert "by=Ada Lovelace <ada@example.com>" in log
    version = home.show("resources/lib/version.yml")
    assert f"versionName: {first}" in version or f'versionName: "{first}"' in version

    second = clone_push(url, dev, {"hello.txt": "hello v2\n"}, "lib two")
    assert home.wait_runs("use_lib", 2, timeout=60)[-1] == "run 2 succeeded"
    assert f"commit={second}" in home.show("jobs/use_lib/log.txt")
    assert "hello v2" in home.show("jobs/use_lib/log.txt")

    # a webhook resource: its key or signature, a JSON payload, 4xx for anything else
    hook = http + "/hooks/hook"
    body = json.dumps({"release": "1.2.3"}).encode()
    assert post(hook, body, {})[0] == 401
    assert post(hook, body, {"Authorization": "Bearer wrong"})[0] == 401
    assert post(hook, b"{not json", {"X-Gitline-Token": HOOK_KEY})[0] == 400
    big = b"[" * 10 + b"1" * (1024 * 1024) + b"]"  # raw: 413 may come before it is all sent
    assert status_of(raw(int(http.rsplit(":", 1)[1]), (
        f"POST /hooks/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gitline-Token: {HOOK_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n").encode()
        + big)) == 413
    assert post(http + "/hooks/nosuch", body, {"X-Gitline-Token": HOOK_KEY})[0] == 404
    assert post(http + "/hooks/lib", body, {"X-Gitline-Token": HOOK_KEY})[0] == 404
    assert home.runs("on_hook") == []
    status, reply = post(hook, body, {"X-Hub-Signature-256": "sha256=" + sign(HOOK_KEY, body)})
    assert (status, reply) == (202, {"resource": "hook", "version": 1})
    assert home.wait_runs("on_hook", 1, timeout=60) == ["run 1 succeeded"]
    assert 'payload={"release": "1.2.3"}' in home.show("jobs/on_hook/log.txt")
    assert post(hook, body, {"Authorization": f"Bearer {HOOK_KEY}"})[0] == 202
    assert home.wait_runs("on_hook", 2, timeout=60)[-1] == "run 2 succeeded"
