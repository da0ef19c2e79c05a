"""The commands that work against a remote `gitline serve --listen` (`gitline --server URL`,
or GITLINE_SERVER; the token from GITLINE_TOKEN): status, log, trigger, approve/reject,
cancel, replay and logs, through the HTTP API (docs/api.md) with the same checks as locally.

The API's refusals come back as core/errors.py's types, so they exit as they do locally.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import click

from controller.core.errors import Absent, Invalid, NotFound, Refused

TIMEOUT = 60.0  # seconds for one API call (a cancel waits up to 5 s for its answer)
ACTIVE = ("queued", "running", "pending_approval")  # a run that has not ended


@dataclass(frozen=True)
class Remote:
    """A controller's HTTP API at `url`, called with `token` (Bearer) when given."""

    url: str
    token: str = ""

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The answer's JSON (or text); a refusal as its core/errors.py type."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url.rstrip("/") + path, data=data, headers=headers,
                                     method=method)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return _decode(resp.read(), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as err:
            raise _refusal(err.code, _decode(err.read(), err.headers.get("Content-Type", ""))
                           ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise click.ClickException(f"cannot reach {self.url}: {reason}") from None

    def job(self, job: str, rest: str = "") -> str:
        return f"/api/jobs/{urllib.parse.quote(job, safe='')}{rest}"


def _decode(raw: bytes, ctype: str) -> Any:
    text = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _refusal(status: int, body: Any) -> Exception:
    """An HTTP error as what the service layer raised on the server (its exit code too)."""
    message = str(body.get("error", body)) if isinstance(body, dict) else str(body).strip()
    if status == 404:  # a log or run that is not there (yet), or a wrong name
        return Absent(message) if message.startswith("no log for") else NotFound(message)
    if status == 400:
        return Invalid(message)
    if status == 409:
        return Refused(message)
    if status in (401, 403):
        hint = "" if os.environ.get("GITLINE_TOKEN") else " (set GITLINE_TOKEN)"
        return click.ClickException(f"{message or 'not allowed'}{hint}")
    return click.ClickException(f"HTTP {status}: {message}")


# --- the commands' remote halves --------------------------------------------------------

def status(remote: Remote, as_json: bool) -> None:
    from controller.cli.printing import print_status

    report = remote.call("GET", "/api/status")
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    click.echo(f"controller: {remote.url}")
    print_status(report)


def trigger(remote: Remote, job: str, params: dict[str, str], message: str | None) -> None:
    body: dict[str, Any] = {"params": params}
    if message:
        body["message"] = message
    answer = remote.call("POST", remote.job(job, "/trigger"), body)
    click.echo(f"committed triggers/{job} as {answer['commit'][:7]}; the controller runs "
               f"{job} once")


def decide(remote: Remote, job: str, decision: str, reason: str) -> None:
    answer = remote.call("POST", remote.job(job, f"/{decision}"), {"reason": reason})
    click.echo(f"committed approvals/{job} ({decision}) as {answer['commit'][:7]}")


def cancel(remote: Remote, job: str) -> None:
    click.echo(remote.call("POST", remote.job(job, "/cancel"), {})["message"])


def replay(remote: Remote, job: str, run: int) -> None:
    click.echo(remote.call("POST", remote.job(job, f"/runs/{run}/replay"), {})["message"])


def history(remote: Remote, name: str, limit: int) -> list[dict[str, Any]]:
    """A job's runs, else a resource's versions, as `log --json` shows them ([]: none)."""
    try:
        runs = remote.call("GET", remote.job(name, f"/runs?limit={limit}"))["runs"]
        return [{"commit": r["commit"], "when": r["when"], "kind": "run",
                 "number": r["number"], "status": r["status"], "cause": r["cause"],
                 "worker": r["worker"]} for r in runs]
    except NotFound:
        pass
    path = f"/api/resources/{urllib.parse.quote(name, safe='')}/versions?limit={limit}"
    try:
        versions = remote.call("GET", path)["versions"]
    except NotFound:
        return []
    return [{"commit": v["commit"], "when": v["when"], "kind": "version",
             "number": v["number"], "versionName": v["versionName"],
             "createdBy": v["createdBy"]} for v in versions]


def read_log(remote: Remote, job: str, run: int | None) -> str:
    text = remote.call("GET", remote.job(job, f"/runs/{run}/log" if run else "/log"))
    return text if isinstance(text, str) else json.dumps(text)


def follow(remote: Remote, job: str, run: int | None, poll_seconds: float = 1.0
           ) -> tuple[int, str]:
    """Wait for `job` run `run` (default: its newest) to end, print its log; (run, status)."""
    while True:
        runs = remote.call("GET", remote.job(job, "/runs?limit=50"))["runs"]
        if not runs and run is None:
            raise Absent(f"{job} has no run to follow")
        number = run if run is not None else runs[0]["number"]
        newest = next((r for r in runs if r["number"] == number), None)
        if newest is None and runs and number <= max(r["number"] for r in runs):
            older = remote.call("GET", remote.job(job, "/runs?limit=1000"))["runs"]
            newest = next((r for r in older if r["number"] == number), None)
            if newest is None:
                raise Absent(f"{job} has no run {number}")
        if newest is not None and newest["status"] not in ACTIVE:
            sys.stdout.write(read_log(remote, job, number))
            sys.stdout.flush()
            return number, str(newest["status"])
        time.sleep(poll_seconds)
