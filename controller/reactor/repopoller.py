"""gitRepo resources whose sourceName is another repository: versions from its commits.

Each is fetched into a bare mirror under HOME/cache/repos (incremental: never re-cloned);
each new commit on a watched branch (or tag) becomes a version through `add_version`, and
jobs get their checkout from the mirror. Failures back off (doubling, up to an hour) and
are logged, never raised. Which refs are watched is `sources.watched_refs`; the git work
is `store.remote`'s.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.core import model, remotes, secretscope, sources
from controller.core.remotes import sanitize_url
from controller.secrets import Secret, find
from controller.store import remote

log = logging.getLogger("gitline")

MAX_NEW_COMMITS = 20  # versions made from one fetch of one ref (oldest dropped)
MAX_BACKOFF = 3600.0


def repo_url(resource: model.Resource, secrets: Mapping[str, Secret]) -> str | None:
    """Where a gitRepo lives, org/repo resolved on its integration's host (remotes.repo_url)."""
    integ = find(secrets, resource.integration)
    return remotes.repo_url(resource, (integ.get("url") or "") if integ else "")


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
        except remote.GitError as err:
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
        remote.ensure_mirror(mirror)
        secret = find(self._secrets(), res.integration)
        if secret is not None and not secret.scope.sends_to(url):
            host = secretscope.host_of(url) or url
            raise remote.GitError(f"secret {res.integration} is not for {host} (hosts: in "
                                  "secrets.yml); nothing was fetched")
        env = remote.git_auth_env(url, secret, self.cache / "keys")
        specs = ["+refs/heads/*:refs/heads/*"]
        if res.definition.get("tags", res.definition.get("buildOnTagPush")):
            specs.append("+refs/tags/*:refs/tags/*")
        remote.fetch(mirror, url, specs, env=env, allow_local=self.allow_local, prune=True)
        return mirror, remote.list_refs(mirror)

    def _poll(self, res: model.Resource, url: str) -> int:
        with self._lock(url):
            mirror, refs = self._fetch(res, url)
            watched = sources.watched_refs(res.definition, refs)
            seen_file = mirror.with_suffix(f".{res.name}.seen.json")
            seen = remote.read_seen(seen_file)
            latest = self._latest(res.name)
            last_commit = str(latest.values.get("commit", "")) if latest else ""
            made = 0
            for ref, sha in watched.items():
                if seen.get(ref) == sha:
                    continue
                for commit in remote.commits_after(mirror, seen.get(ref), sha, MAX_NEW_COMMITS):
                    if commit == last_commit:
                        continue
                    self._version(res, url, mirror, ref, commit)
                    last_commit = commit
                    made += 1
                seen[ref] = sha
            remote.write_seen(seen_file, seen)
            return made

    def _version(self, res: model.Resource, url: str, mirror: Path, ref: str,
                 sha: str) -> None:
        committer, author, subject = remote.commit_people(mirror, sha)
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
            if not (mirror / "HEAD").exists() or not remote.has_commit(mirror, commit):
                self._fetch(res, url)
        return ConfigRepo(mirror, "main").files_under(commit)

    # --- webhooks

    def matching(self, push: sources.Push) -> list[str]:
        return sorted(n for n, (_, url) in self.resources().items()
                      if sources.push_matches(push, url))
