"""A git host on 127.0.0.1 for commit statuses: `git daemon` for the repositories and an
HTTP server that answers the commit-status API of GitHub, GitLab or Gitea as each
documents it, refusing any request that differs (method, path, headers, JSON fields,
states), and that can fail the first requests to show a retry."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.harness.commands import run
from tests.harness.wait import free_port, wait_for

SHA = r"[0-9a-f]{40}"
# provider: (path pattern under the API base, auth header, its value's prefix, states,
# JSON fields it takes), from the providers' API references
APIS: dict[str, tuple[re.Pattern[str], str, str, frozenset[str], frozenset[str]]] = {
    "github": (re.compile(rf"^/api/v3/repos/([^/]+)/([^/]+)/statuses/({SHA})$"),
               "Authorization", "Bearer ", frozenset({"pending", "success", "failure", "error"}),
               frozenset({"state", "target_url", "description", "context"})),
    "gitlab": (re.compile(rf"^/api/v4/projects/([^/]+)/statuses/({SHA})$"),
               "PRIVATE-TOKEN", "", frozenset({"pending", "running", "success", "failed",
                                               "canceled"}),
               frozenset({"state", "ref", "name", "context", "target_url", "description",
                          "coverage", "pipeline_id"})),
    "gitea": (re.compile(rf"^/api/v1/repos/([^/]+)/([^/]+)/statuses/({SHA})$"),
              "Authorization", "token ", frozenset({"pending", "success", "error", "failure",
                                                    "warning"}),
              frozenset({"state", "target_url", "description", "context"})),
}


@dataclass
class Posted:
    repo: str  # owner/repo (GitLab: the project path, decoded)
    sha: str
    body: dict[str, Any]


@dataclass
class StatusApi:
    """One provider's commit-status API; `fail_first` valid requests get a 502."""

    provider: str
    token: str
    fail_first: int = 0
    posted: list[Posted] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why each bad request was refused
    failed: int = 0
    server: ThreadingHTTPServer | None = None

    def check(self, method: str, path: str, headers: Any, data: bytes) -> tuple[int, str]:
        pattern, header, prefix, states, fields = APIS[self.provider]
        m = pattern.match(path)
        if method != "POST" or not m:
            return 404, f"{method} {path}: no such endpoint"
        if headers.get(header) != prefix + self.token:
            return 401, f"{header}: wrong or missing token"
        if not (headers.get("Content-Type") or "").startswith("application/json"):
            return 415, "not JSON"
        try:
            body = json.loads(data)
        except ValueError:
            return 400, "body is not JSON"
        if not isinstance(body, dict) or set(body) - fields or body.get("state") not in states:
            return 422, f"fields or state not in the API: {body}"
        if len(str(body.get("description", ""))) > 140:
            return 422, "description longer than 140"
        if self.provider == "github" and "vnd.github" not in (headers.get("Accept") or ""):
            return 415, "Accept is not application/vnd.github+json"
        repo = unquote(m.group(1)) if self.provider == "gitlab" else f"{m[1]}/{m[2]}"
        if self.provider == "gitlab" and "%2F" not in m.group(1).upper():
            return 404, "the project path must be URL-encoded"
        if self.failed < self.fail_first:
            self.failed += 1
            return 502, "failing on purpose"
        self.posted.append(Posted(repo, m.groups()[-1], body))
        return 201, ""

    def __enter__(self) -> StatusApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                code, why = api.check(self.command, self.path, self.headers, data)
                if why and code != 502:
                    api.refused.append(why)
                out = json.dumps({"message": why} if why else {"id": len(api.posted)}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_GET = do_PUT = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    @property
    def base(self) -> str:
        assert self.server is not None
        path = {"github": "/api/v3", "gitlab": "/api/v4", "gitea": "/api/v1"}[self.provider]
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def wait(self, count: int, timeout: float = 60.0) -> list[Posted]:
        deadline = time.monotonic() + timeout
        while len(self.posted) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.posted) >= count, (f"{len(self.posted)} of {count} statuses arrived; "
                                           f"refused: {self.refused}")
        return self.posted


@dataclass
class GitDaemon:
    """`git daemon` serving `base` over git:// on 127.0.0.1, pushes allowed."""

    base: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> GitDaemon:
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
             f"--base-path={self.base}", f"--port={self.port}", "--listen=127.0.0.1",
             str(self.base)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=2).close()
                return True
            except OSError:
                return False
        wait_for(up, 30, "git daemon")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)

    @property
    def url(self) -> str:
        return f"git://127.0.0.1:{self.port}"

    def create(self, path: str) -> str:
        """A bare repository `path` (`acme/app`); its URL."""
        run("git", "init", "-q", "--bare", "-b", "main", self.base / f"{path}.git")
        return f"{self.url}/{path}.git"


def push_files(url: str, work: Path, files: dict[str, str | None], message: str) -> str:
    """Commit `files` (None deletes one) in a clone of `url` at `work`, push; the sha."""
    if not work.exists():
        run("git", "clone", "-q", url, work)
        run("git", "checkout", "-q", "-B", "main", cwd=work)
    for rel, text in files.items():
        if text is None:
            (work / rel).unlink()
        else:
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(text)
    run("git", "add", "-A", cwd=work)
    run("git", "commit", "-q", "-m", message, cwd=work)
    run("git", "push", "-q", "origin", "HEAD:main", cwd=work)
    return run("git", "rev-parse", "HEAD", cwd=work).stdout.strip()
