"""Following other repositories: the HOME's upstream, and gitRepo resources elsewhere.

- The upstream (`upstream:` in gitline.yml, any git URL): its branch is fetched on an
  interval and at once on a push webhook, then moved onto config.git's watched branch
  (fast-forward; a rewritten upstream resets the branch and is reported), then the loop is
  poked. With `push_state: true` the state branch is pushed back to the upstream.
- gitRepo resources whose sourceName is another repository: fetched into a bare mirror
  under HOME/cache/repos (incremental: never re-cloned), each new commit on a watched
  branch (or tag) becomes a version through `add_version`, and jobs get their checkout
  from the mirror. Failures back off (doubling, up to an hour) and are logged, never raised.

The git CLI does the network work; credentials come from the secrets store and reach git
through GIT_CONFIG_* variables (an http.extraHeader) or GIT_SSH_COMMAND, never through a
URL or argv, and URLs are sanitized before they are logged. The decisions (which refs are
watched, what a fetch means for the branch) are pure functions at the top of this module.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.core import model, remotes, secretscope
from controller.secrets import Secret, find
from controller.server.webhooks import Push, push_matches, sanitize_url

log = logging.getLogger("gitline")

ZERO = "0" * 40
MAX_NEW_COMMITS = 20  # versions made from one fetch of one ref (oldest dropped)
MAX_REFS = 20  # refs of one repository followed at once
MAX_BACKOFF = 3600.0

# --------------------------------------------------------------------- pure decisions


def decide_follow(local: str | None, remote: str, local_in_remote: bool,
                  remote_in_local: bool) -> str:
    """What a fetched upstream tip means for the local branch.

    "same", "fast-forward", "local-ahead" (commits made here, e.g. `gitline trigger`;
    kept until the upstream moves), or "rewrite" (the upstream was force-pushed: reset).
    """
    if local == remote:
        return "same"
    if not local or local_in_remote:
        return "fast-forward"
    if remote_in_local:
        return "local-ahead"
    return "rewrite"


def _globs(spec: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(spec, Mapping):
        return (), ()

    def names(value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            return (value,)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    return names(spec.get("only")), names(spec.get("except"))


def _selected(name: str, only: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if only and not any(fnmatch.fnmatchcase(name, g) for g in only):
        return False
    return not any(fnmatch.fnmatchcase(name, g) for g in exclude)


def watched_refs(definition: Mapping[str, Any], refs: Mapping[str, str]) -> dict[str, str]:
    """The refs of a gitRepo definition among a repository's refs (name -> sha).

    `branch: x` follows x; `branches: {only: [...], except: [...]}` (globs) follows
    many; neither follows main, else master. `tags: true` (or `{only, except}`) adds tags.
    """
    heads = {r[len("refs/heads/"):]: s for r, s in refs.items() if r.startswith("refs/heads/")}
    out: dict[str, str] = {}
    branch = definition.get("branch") or definition.get("branchName")
    if branch:
        ref = f"refs/heads/{branch}"
        if ref in refs:
            out[ref] = refs[ref]
    elif isinstance(definition.get("branches"), Mapping):
        only, exclude = _globs(definition["branches"])
        out.update({f"refs/heads/{n}": s for n, s in sorted(heads.items())
                    if _selected(n, only, exclude)})
    else:
        for default in ("main", "master"):
            if default in heads:
                out[f"refs/heads/{default}"] = heads[default]
                break
    tags = definition.get("tags", definition.get("buildOnTagPush"))
    if tags:
        only, exclude = _globs(tags)
        out.update({r: s for r, s in sorted(refs.items()) if r.startswith("refs/tags/")
                    and _selected(r[len("refs/tags/"):], only, exclude)})
    return dict(list(out.items())[:MAX_REFS])


def repo_url(resource: model.Resource, secrets: Mapping[str, Secret]) -> str | None:
    """Where a gitRepo lives, org/repo resolved on its integration's host (remotes.repo_url)."""
    integ = find(secrets, resource.integration)
    return remotes.repo_url(resource, (integ.get("url") or "") if integ else "")


def git_auth_env(url: str, secret: Secret | None, key_dir: Path) -> dict[str, str]:
    """Environment for git that carries `secret` to `url` without putting it in argv."""
    if secret is None:
        return {}
    fields = dict(secret.fields) if secret.fields else {"token": secret.value or ""}
    if fields.get("sshKey") and not url.startswith(("http://", "https://")):
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = key_dir / hashlib.sha256(fields["sshKey"].encode()).hexdigest()[:16]
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(fields["sshKey"].strip() + "\n")
        return {"GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes "
                                   "-o StrictHostKeyChecking=accept-new -o BatchMode=yes"}
    if url.startswith(("http://", "https://")):
        user = fields.get("username") or fields.get("user") or "x-access-token"
        password = fields.get("password") or fields.get("token") or fields.get("value") or ""
        if not password:
            return {}
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}
    return {}


# --------------------------------------------------------------------------- git CLI


class GitError(RuntimeError):
    """A git command failed (the message is sanitized)."""


def run_git(*args: str, git_dir: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float = 300.0, allow_local: bool = True) -> str:
    """git with the remote transports only (file:// and paths when `allow_local`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update({"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"})
    base.update(env or {})
    base["GIT_PROTOCOL_FROM_USER"] = "0"  # no protocol a URL picks (ext::, fd::) by itself
    cmd = ["git", *remotes.protocol_config(allow_local),
           *([f"--git-dir={git_dir}"] if git_dir else []), *args]
    try:
        done = subprocess.run(cmd, env=base, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from err
    if done.returncode != 0:
        detail = sanitize_url(done.stderr.strip().splitlines()[-1] if done.stderr.strip()
                              else f"exit {done.returncode}")
        raise GitError(f"git {args[0]}: {detail}")
    return done.stdout


def checked_url(url: str, allow_local: bool) -> None:
    """Refuse a URL git must not be handed (an option, a remote helper, a local path)."""
    problem = remotes.url_problem(url, allow_local=allow_local)
    if problem:
        raise GitError(f"refusing remote {sanitize_url(url)}: {problem}")


def list_refs(git_dir: Path, prefix: str = "refs/") -> dict[str, str]:
    out = run_git("for-each-ref", "--format=%(refname) %(objectname)", prefix, git_dir=git_dir)
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: sha for ref, sha in pairs}


def is_ancestor(git_dir: Path, old: str, new: str) -> bool:
    try:
        run_git("merge-base", "--is-ancestor", old, new, git_dir=git_dir)
        return True
    except GitError:
        return False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------- upstream


@dataclass
class UpstreamReport:
    url: str
    branch: str
    last_fetch: str = ""
    last_result: str = ""
    last_error: str = ""
    rewrites: list[str] = field(default_factory=list)  # "old..new at time", newest last

    def as_dict(self) -> dict[str, Any]:
        return {"url": self.url, "branch": self.branch, "lastFetch": self.last_fetch,
                "lastResult": self.last_result, "lastError": self.last_error,
                "rewrites": self.rewrites[-10:]}


class UpstreamFollower:
    """Moves config.git's watched branch to the upstream's; optionally pushes state back."""

    FETCH_REF = "refs/gitline/upstream"

    def __init__(self, repo_path: Path, url: str, *, branch: str, upstream_branch: str,
                 state_branch: str, push_state: bool, auth_env: Callable[[], dict[str, str]],
                 poke: Callable[[], None], allow_local: bool = False) -> None:
        self.repo = repo_path
        self.allow_local = allow_local
        self.url = url
        self.branch = branch
        self.upstream_branch = upstream_branch or branch
        self.state_branch = state_branch
        self.push_state = push_state
        self._auth_env = auth_env
        self._poke = poke
        self._lock = threading.Lock()
        self._pushed_state = ""
        self.report = UpstreamReport(sanitize_url(url), self.upstream_branch)

    def sync(self) -> str:
        """Fetch, move the branch, push state; returns the outcome (never raises)."""
        with self._lock:
            try:
                result = self._follow(self._auth_env())
                self.report.last_error = ""
            except GitError as err:
                result = "error"
                self.report.last_error = str(err)
                log.warning("upstream %s: %s", self.report.url, err)
            self.report.last_fetch = _now()
            self.report.last_result = result
            return result

    def sync_state(self) -> None:
        """Push the state branch to the upstream if it moved since the last push."""
        if not self.push_state:
            return
        with self._lock:
            try:
                self._push_state(list_refs(self.repo, "refs/heads/"), self._auth_env())
            except GitError as err:
                self.report.last_error = str(err)
                log.warning("upstream %s: pushing %s: %s", self.report.url, self.state_branch,
                            err)

    def _follow(self, env: dict[str, str]) -> str:
        checked_url(self.url, self.allow_local)
        run_git("fetch", "--no-tags", "--quiet", "--", self.url,
                f"+refs/heads/{self.upstream_branch}:{self.FETCH_REF}", git_dir=self.repo, env=env,
                allow_local=self.allow_local)
        refs = list_refs(self.repo)
        remote = refs[self.FETCH_REF]
        local = refs.get(f"refs/heads/{self.branch}")
        decision = decide_follow(
            local, remote,
            local_in_remote=bool(local) and is_ancestor(self.repo, local or "", remote),
            remote_in_local=bool(local) and is_ancestor(self.repo, remote, local or ""))
        if decision in ("fast-forward", "rewrite"):
            run_git("update-ref", f"refs/heads/{self.branch}", remote, local or ZERO,
                    git_dir=self.repo)
            if decision == "rewrite":
                note = f"{(local or '')[:7]}..{remote[:7]} at {_now()}"
                self.report.rewrites.append(note)
                log.warning("upstream %s was rewritten (force push): %s reset from %s to %s",
                            self.report.url, self.branch, (local or "")[:7], remote[:7])
            else:
                log.info("upstream %s: %s -> %s", self.report.url, self.branch, remote[:7])
            self._poke()
        if self.push_state:
            self._push_state(refs, env)
        return decision

    def _push_state(self, refs: dict[str, str], env: dict[str, str]) -> None:
        tip = refs.get(f"refs/heads/{self.state_branch}", "")
        if not tip or tip == self._pushed_state:
            return
        ref = f"refs/heads/{self.state_branch}"
        checked_url(self.url, self.allow_local)
        run_git("push", "--quiet", "--", self.url, f"{ref}:{ref}", git_dir=self.repo, env=env,
                allow_local=self.allow_local)
        self._pushed_state = tip
        log.info("upstream %s: pushed %s at %s", self.report.url, self.state_branch, tip[:7])


# ------------------------------------------------------------------ gitRepo resources


@dataclass
class _Followed:
    url: str
    interval: float
    failures: int = 0
    not_before: float = 0.0
    last_error: str = ""


class RepoPoller:
    """Versions gitRepo resources of other repositories from bare mirrors in `cache`."""

    def __init__(self, cache: Path, *, workflow: Callable[[], model.Workflow | None],
                 latest: Callable[[str], model.Version | None],
                 add_version: Callable[..., Any], poke: Callable[[], None],
                 secrets: Callable[[], Mapping[str, Secret]],
                 default_interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic, allow_local: bool = False) -> None:
        self.cache = cache
        self.allow_local = allow_local
        self._workflow = workflow
        self._latest = latest
        self._add_version = add_version
        self._poke = poke
        self._secrets = secrets
        self._default = default_interval
        self._clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.followed: dict[str, _Followed] = {}

    # --- what to follow

    def resources(self) -> dict[str, tuple[model.Resource, str]]:
        """External gitRepo resources of the current workflow: name -> (resource, url)."""
        wf = self._workflow()
        if wf is None:
            return {}
        secrets = self._secrets()
        out = {}
        for name, res in wf.resources.items():
            url = repo_url(res, secrets) if name not in wf.inconsistent else None
            if url:
                out[name] = (res, url)
        return out

    def interval(self, res: model.Resource) -> float:
        raw = res.definition.get("pollSeconds", res.definition.get("interval"))
        try:
            return max(1.0, float(raw)) if raw is not None else self._default
        except (TypeError, ValueError):
            return self._default

    def mirror(self, url: str) -> Path:
        return self.cache / "repos" / (hashlib.sha256(url.encode()).hexdigest()[:20] + ".git")

    def _lock(self, url: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(url, threading.Lock())

    # --- polling

    def poll(self, name: str, *, force: bool = False) -> int:
        """Fetch one resource's repository; returns how many versions it made."""
        found = self.resources().get(name)
        if found is None:
            self.followed.pop(name, None)
            return 0
        res, url = found
        state = self.followed.setdefault(name, _Followed(url, self.interval(res)))
        state.url, state.interval = url, self.interval(res)
        if not force and self._clock() < state.not_before:
            return 0
        try:
            made = self._poll(res, url)
        except GitError as err:
            state.failures += 1
            delay = min(state.interval * 2 ** state.failures, MAX_BACKOFF)
            state.not_before = self._clock() + delay
            state.last_error = str(err)
            log.warning("%s: fetching %s failed (%s); next try in %.0fs", name,
                        sanitize_url(url), err, delay)
            return 0
        state.failures, state.not_before, state.last_error = 0, 0.0, ""
        if made:
            self._poke()
        return made

    def _fetch(self, res: model.Resource, url: str) -> tuple[Path, dict[str, str]]:
        mirror = self.mirror(url)
        if not (mirror / "HEAD").exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            run_git("init", "--quiet", "--bare", "--", str(mirror))
        secret = find(self._secrets(), res.integration)
        if secret is not None and not secret.scope.sends_to(url):
            raise GitError(f"secret {res.integration} is not for {secretscope.host_of(url) or url} "
                           "(hosts: in secrets.yml); nothing was fetched")
        env = git_auth_env(url, secret, self.cache / "keys")
        specs = ["+refs/heads/*:refs/heads/*"]
        if res.definition.get("tags", res.definition.get("buildOnTagPush")):
            specs.append("+refs/tags/*:refs/tags/*")
        checked_url(url, self.allow_local)
        run_git("fetch", "--quiet", "--prune", "--no-tags", "--", url, *specs, git_dir=mirror,
                env=env, allow_local=self.allow_local)
        return mirror, list_refs(mirror)

    def _poll(self, res: model.Resource, url: str) -> int:
        with self._lock(url):
            mirror, refs = self._fetch(res, url)
            watched = watched_refs(res.definition, refs)
            seen_file = mirror.with_suffix(f".{res.name}.seen.json")
            seen = json.loads(seen_file.read_text()) if seen_file.exists() else {}
            latest = self._latest(res.name)
            last_commit = str(latest.values.get("commit", "")) if latest else ""
            made = 0
            for ref, sha in watched.items():
                if seen.get(ref) == sha:
                    continue
                for commit in self._new_commits(mirror, seen.get(ref), sha):
                    if commit == last_commit:
                        continue
                    self._version(res, url, mirror, ref, commit)
                    last_commit = commit
                    made += 1
                seen[ref] = sha
            tmp = seen_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(seen, indent=1, sort_keys=True))
            os.replace(tmp, seen_file)
            return made

    def _new_commits(self, mirror: Path, old: str | None, new: str) -> list[str]:
        """Commits after `old` up to `new`, oldest first; just `new` if old is unknown."""
        if not old or not is_ancestor(mirror, old, new):
            return [new]
        out = run_git("rev-list", "--first-parent", f"--max-count={MAX_NEW_COMMITS}",
                      f"{old}..{new}", git_dir=mirror)
        return list(reversed(out.split()))

    def _version(self, res: model.Resource, url: str, mirror: Path, ref: str,
                 sha: str) -> None:
        fmt = "%H%x00%cn <%ce>%x00%an <%ae>%x00%s"
        _, committer, author, subject = run_git(
            "log", "-1", f"--format={fmt}", sha, git_dir=mirror).rstrip("\n").split("\x00", 3)
        values: dict[str, Any] = {
            "commit": sha, "commitMessage": subject, "committer": committer,
            "sourceName": str(res.definition.get("sourceName") or sanitize_url(url))}
        if ref.startswith("refs/tags/"):
            values.update(gitTagName=ref[len("refs/tags/"):], isGitTag=True)
        else:
            values.update(branch=ref[len("refs/heads/"):], isGitTag=False)
        self._add_version(res.name, values, name=sha, created_by=f"fetch of {ref}",
                          author=author)

    # --- jobs' checkout

    def checkout(self, res: model.Resource,
                 version: model.Version) -> tuple[dict[str, bytes], frozenset[str]] | None:
        """The files of `version`'s commit from the mirror (fetched if missing)."""
        url = repo_url(res, self._secrets())
        commit = str(version.values.get("commit", ""))
        if not url or not commit:
            return None
        from controller.store.configrepo import ConfigRepo

        mirror = self.mirror(url)
        with self._lock(url):
            if not (mirror / "HEAD").exists() or not _has_commit(mirror, commit):
                self._fetch(res, url)
        return ConfigRepo(mirror, "main").files_under(commit)

    # --- webhooks

    def matching(self, push: Push) -> list[str]:
        return sorted(n for n, (_, url) in self.resources().items() if push_matches(push, url))


def _has_commit(mirror: Path, sha: str) -> bool:
    try:
        run_git("cat-file", "-e", f"{sha}^{{commit}}", git_dir=mirror)
        return True
    except GitError:
        return False


# ------------------------------------------------------------------------ scheduling


class Pollers:
    """apscheduler jobs: the upstream on its interval, each external gitRepo on its own."""

    SYNC_SECONDS = 3.0
    STATE_PUSH_SECONDS = 5.0  # the state branch reaches the upstream this soon

    def __init__(self, *, upstream: UpstreamFollower | None, upstream_seconds: float,
                 repos: RepoPoller) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.upstream = upstream
        self.repos = repos
        self._scheduler = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1,
                                       "misfire_grace_time": None})
        self._upstream_seconds = upstream_seconds

    def start(self) -> None:
        now = datetime.now(UTC)
        if self.upstream is not None:
            self._scheduler.add_job(self.upstream.sync, "interval", id="upstream",
                                    seconds=self._upstream_seconds, next_run_time=now)
            if self.upstream.push_state:
                self._scheduler.add_job(self.upstream.sync_state, "interval", id="state",
                                        seconds=self.STATE_PUSH_SECONDS)
        self._scheduler.add_job(self._sync_jobs, "interval", id="repos",
                                seconds=self.SYNC_SECONDS, next_run_time=now)
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.shutdown(wait=False)

    def _sync_jobs(self) -> None:
        """Add, retime or drop one interval job per external gitRepo of the workflow."""
        wanted = {name: self.repos.interval(res)
                  for name, (res, _) in self.repos.resources().items()}
        for job in self._scheduler.get_jobs():
            if job.id.startswith("repo:"):
                name = job.id[5:]
                seconds = getattr(job.trigger, "interval", None)
                if name not in wanted or (seconds and seconds.total_seconds() != wanted[name]):
                    job.remove()
        current = {j.id for j in self._scheduler.get_jobs()}
        for name, seconds in wanted.items():
            if f"repo:{name}" not in current:
                self._scheduler.add_job(self.repos.poll, "interval", args=[name],
                                        id=f"repo:{name}", seconds=seconds,
                                        next_run_time=datetime.now(UTC))

    def pushed(self, push: Push) -> list[str]:
        """A push webhook: fetch whatever it concerns at once; returns what."""
        names = []
        if self.upstream is not None and push_matches(push, self.upstream.url):
            names.append("upstream")
            self._scheduler.add_job(self.upstream.sync, id="now:upstream",
                                    replace_existing=True)
        for name in self.repos.matching(push):
            names.append(name)
            self._scheduler.add_job(self.repos.poll, args=[name], kwargs={"force": True},
                                    id=f"now:{name}", replace_existing=True)
        return names

    def status(self) -> dict[str, Any]:
        return {
            "upstream": self.upstream.report.as_dict() if self.upstream else None,
            "repositories": {n: {"url": sanitize_url(s.url), "intervalSeconds": s.interval,
                                 "failures": s.failures, "lastError": s.last_error}
                             for n, s in sorted(self.repos.followed.items())},
        }
