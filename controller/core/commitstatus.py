"""Statuses back on commits: which a run owes, and the request each git host documents (pure).

A run that takes a gitRepo with `showBuildStatus: true` (on its IN step, as Shippable
wrote it, or in the resource's definition) owes that repository's commit a status: when
it starts, and when it ends. So does a `<repo>_runCI` whose repository of the
subscription has `commit_status:` in gitline.yml, on its `<repo>_ciRepo` commit; a gitRepo
on such a repository is on the host only through that entry (`on_host`).

The host's API is chosen from the integration's `apiUrl` (its path: `/api/v3` GitHub
Enterprise, `/api/v4` GitLab, `/api/v1` Gitea) or else the repository's host (github.com,
a host named gitlab... or gitea...), so a self-hosted server needs only `apiUrl` in its
secret. No I/O: notify/commitstatus.py sends.

    GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: Bearer T
            state: pending | success | failure | error; context
    GitLab  POST {api}/projects/{url-encoded path}/statuses/{sha}   PRIVATE-TOKEN: T
            state: pending | running | success | failed | canceled; name
    Gitea   POST {api}/repos/{owner}/{repo}/statuses/{sha}   Authorization: token T
            state: pending | success | error | failure | warning; context
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from controller.core import model, remotes
from controller.core.subscription import StatusTarget

PROVIDERS = ("github", "gitlab", "gitea")
API_PATHS = {"/api/v3": "github", "/api/v4": "gitlab", "/api/v1": "gitea"}
# a run's event -> the state each host calls it
STATES: dict[str, dict[str, str]] = {
    "github": {"started": "pending", "succeeded": "success", "failed": "failure",
               "timed_out": "error", "cancelled": "error"},
    "gitlab": {"started": "running", "succeeded": "success", "failed": "failed",
               "timed_out": "failed", "cancelled": "canceled"},
    "gitea": {"started": "pending", "succeeded": "success", "failed": "failure",
              "timed_out": "error", "cancelled": "error"},
}
# the states each host documents
ALLOWED = {"github": frozenset({"pending", "success", "failure", "error"}),
           "gitlab": frozenset({"pending", "running", "success", "failed", "canceled"}),
           "gitea": frozenset({"pending", "success", "error", "failure", "warning"})}
WORDS = {"started": "started", "succeeded": "succeeded", "failed": "failed",
         "timed_out": "timed out", "cancelled": "was cancelled"}
SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class StatusError(ValueError):
    """A status that cannot be posted as configured (said on the delivery record)."""


@dataclass(frozen=True)
class Owed:
    """One status a run owes: `resource`'s commit `sha`, for `event` of run `job` `run`."""

    resource: str
    sha: str
    job: str
    run: int
    event: str  # started | succeeded | failed | timed_out | cancelled


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]

    def data(self) -> bytes:
        return json.dumps(self.body).encode("utf-8")


def wants_status(inp: model.Input, res: model.Resource | None) -> bool:
    return res is not None and res.type == "gitRepo" and (
        inp.show_build_status or str(res.definition.get("showBuildStatus", "")).lower()
        in ("true", "yes", "on", "1"))


def ci_wants_status(job: model.Job, inp: model.Input, res: model.Resource | None,
                    ci_sources: Collection[str]) -> bool:
    """A CI section's checkout (`<repo>_ciRepo` of `<repo>_runCI`) on a source whose
    gitline.yml entry has `commit_status:` (`ci_sources`; MAIN for config.git)."""
    return (job.ci is not None and inp.name == job.ci.checkout and res is not None
            and res.tracks_path is not None and res.tracks_source in ci_sources)


def owed(wf: model.Workflow, job: model.Job, run: int, event: str,
         commits: Mapping[str, str], ci_sources: Collection[str] = ()) -> list[Owed]:
    """The statuses `event` of run `run` of `job` owes; `commits` has the commit each
    gitRepo input of the run used."""
    out = []
    for inp in job.inputs:
        sha = commits.get(inp.name, "")
        res = wf.resources.get(inp.name)
        if sha and (wants_status(inp, res) or ci_wants_status(job, inp, res, ci_sources)):
            out.append(Owed(inp.name, sha, job.name, run, event))
    return out


def on_host(res: model.Resource, base_url: str, target: StatusTarget | None
            ) -> tuple[str, str]:
    """(repository URL, `owner/repo` path) of gitRepo `res` on its git host. A gitRepo on
    a repository of the subscription (config.git or a source) is there only through its
    source's `commit_status:` (`target`); `base_url` is the integration's `url`."""
    if res.tracks_path is None:
        url = remotes.repo_url(res, base_url) or ""
        if not url:
            raise StatusError(f"resource {res.name} is no repository on a git host")
        return url, repo_path(res, url)
    if target is None or not target.repo:
        raise StatusError(f"resource {res.name} is on {res.tracks_source or 'config.git'}, "
                          "whose repository on a git host is not named: set commit_status: "
                          "{integration: SECRET, repo: owner/repo} for it in gitline.yml")
    if remotes.looks_like_url(target.repo):
        url = target.repo
    else:
        url = f"{(base_url or 'https://' + remotes.DEFAULT_GIT_HOST).rstrip('/')}/" \
              f"{target.repo.strip('/')}.git"
    path = remotes.normalize_url(url).partition("/")[2]
    if path.count("/") < 1:
        raise StatusError(f"cannot tell owner/repo from {remotes.sanitize_url(url)}")
    return url, path


def commit_of(values: Mapping[str, Any], version_name: str) -> str:
    """The commit a gitRepo version names (its values, else its versionName)."""
    for key in ("commit", "commitSha", "sha"):
        if isinstance(values.get(key), str) and values[key]:
            return str(values[key])
    sha = values.get("shaData")
    if isinstance(sha, Mapping) and sha.get("commitSha"):
        return str(sha["commitSha"])
    return version_name


def provider_of(api_url: str, repo_url: str) -> str:
    """github | gitlab | gitea, from the API URL's path or the repository's host."""
    path = "/" + api_url.split("://", 1)[-1].partition("/")[2].rstrip("/") if api_url else ""
    for suffix, provider in API_PATHS.items():
        if path.endswith(suffix):
            return provider
    host = remotes.normalize_url(api_url or repo_url).partition("/")[0]
    if host in ("github.com", "api.github.com"):
        return "github"
    for provider in ("gitlab", "gitea"):
        if provider in host:
            return provider
    if host == "codeberg.org":
        return "gitea"
    raise StatusError(f"cannot tell GitHub, GitLab or Gitea from {host or 'no host'}: set "
                      "apiUrl in the secret (https://HOST/api/v3, /api/v4 or /api/v1)")


def api_base(provider: str, api_url: str, repo_url: str) -> str:
    """The API's base URL: `apiUrl` as written, else the host's usual one."""
    if api_url:
        return api_url.rstrip("/")
    host = remotes.normalize_url(repo_url).partition("/")[0]
    if provider == "github" and host == "github.com":
        return "https://api.github.com"
    return f"https://{host}" + {"github": "/api/v3", "gitlab": "/api/v4",
                                "gitea": "/api/v1"}[provider]


def repo_path(res: model.Resource, repo_url: str) -> str:
    """`owner/repo` (GitLab: `group/sub/repo`) of the gitRepo on its host."""
    source = str(res.definition.get("sourceName") or "")
    if source and not remotes.looks_like_url(source):
        return source.strip("/").removesuffix(".git")
    path = remotes.normalize_url(repo_url).partition("/")[2]
    if path.count("/") < 1:
        raise StatusError(f"cannot tell owner/repo from {remotes.sanitize_url(repo_url)}")
    return path


def request(provider: str, base: str, repo: str, sha: str, *, state: str, context: str,
            description: str, target_url: str, token: str) -> Request:
    """The request that sets `state` on commit `sha`, as `provider` documents it."""
    if not SHA.fullmatch(sha):
        raise StatusError(f"{sha[:60]!r} is not a commit sha")
    if state not in ALLOWED[provider]:
        raise StatusError(f"{provider} has no commit state {state!r}")
    headers = {"Content-Type": "application/json", "User-Agent": "gitline"}
    body: dict[str, Any] = {"state": state, "description": description[:140]}
    if target_url:
        body["target_url"] = target_url
    if provider == "gitlab":
        url = f"{base}/projects/{quote(repo, safe='')}/statuses/{sha}"
        headers["PRIVATE-TOKEN"] = token
        body["name"] = context
    else:
        owner_repo = "/".join(quote(p, safe="") for p in repo.split("/", 1))
        url = f"{base}/repos/{owner_repo}/statuses/{sha}"
        body["context"] = context
        if provider == "github":
            headers.update({"Authorization": f"Bearer {token}",
                            "Accept": "application/vnd.github+json",
                            "X-GitHub-Api-Version": "2022-11-28"})
        else:
            headers["Authorization"] = f"token {token}"
    return Request("POST", url, headers, body)


def state_of(provider: str, event: str) -> str:
    state = STATES[provider].get(event)
    if state is None:
        raise StatusError(f"no {provider} commit state for a run that {event}")
    return state


def run_url(web_url: str, job: str, run: int) -> str:
    """The run's page in the web view ("" when no web_url is set)."""
    if not web_url:
        return ""
    return f"{web_url.rstrip('/')}/jobs/{quote(job, safe='')}/runs/{run}"


def describe(owed_: Owed) -> str:
    return f"Gitline: {owed_.job} run {owed_.run} {WORDS.get(owed_.event, owed_.event)}"


def context_of(job: str) -> str:
    return f"gitline/{job}"


def token_of(fields: Mapping[str, str], value: str | None) -> str:
    return str(fields.get("token") or fields.get("password") or value or "")

