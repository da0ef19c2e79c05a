"""The answer to a push: read what core/pushplan needs from git, return the PushPlan.

Used in the controller by the HTTP git server's update hook and by HOME/answers.sock (the
pre-receive hook of a push by path asks there; both through app.py, one `Answerer`), by
the hook itself when no controller runs (`python -m controller.pushanswer`, written by
store/repoinit.py), and by `gitline plan`. It only reads: the config commits (with a
push's quarantined objects), the state branch and secrets.yml's scopes. Store and core
only, as the service layer.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from controller.core import approvals, intake, pushplan, pushwords, replan
from controller.core.fileload import LoadCache
from controller.core.gcpause import no_collection  # a load's million objects: no GC walks
from controller.store import subscription
from controller.store.configrepo import ConfigRepo
from controller.store.gitstate import GitStateStore
from controller.store.repoinit import REFUSE  # the hook's status that refuses a push

if TYPE_CHECKING:
    from controller.core.secretscope import Scope
    from controller.settings import Settings

ZERO = "0" * 40


def _scopes(home: Path) -> dict[str, Scope] | None:
    """Who may use each secret, as the controller checks it; None when secrets.yml cannot
    be read here (a pusher without access to it): then scopes are not checked."""
    from controller.secrets import SecretsError, load_secrets, scopes

    try:
        return scopes(load_secrets(home))
    except (SecretsError, OSError):
        return None


def plan_commit(config: ConfigRepo, store: GitStateStore, old: str, new: str, *,
                home: Path | None = None, identity: approvals.Identity | None = None,
                cache: LoadCache | None = None, settings: Settings | None = None,
                previous: replan.PlanMemo | None = None,
                source: SourcePush | None = None) -> pushplan.PushPlan:
    """What moving the config branch from `old` ("" or zeros: from nothing) to `new` does.

    `identity`: who pushed, when the edge knows it (a token with the approve scope);
    `cache`: files loaded for the previous answer (a long-lived answerer); `settings`:
    the HOME's, whose other sources load with it (at their heads); `previous`: the
    previous answer's plan memo; `source`: the push is to that source of the
    subscription instead (`old` and `new` are then the config branch's head)."""
    snap = store.read_snapshot()
    scopes = _scopes(home) if home is not None else None
    objects = {source.name: source.objects} if source and source.objects else None
    sub = subscription.open_like(settings, config, objects)
    try:
        at = {**sub.heads(), source.name: source.new} if source else None
    finally:
        sub.close()
    pushed = subscription.load(settings, config, new, at, objects, scopes=scopes, cache=cache)
    good = None
    if pushed.fatal and snap.good_commit:  # only then: a second load costs as much again
        good = (snap.good_commit, subscription.load(settings, config, snap.good_commit,
                                                    snap.good_sources, scopes=scopes))
    commit, wf = good if good else (new, pushed)
    # a gitRepo on another source versions on that source's head (or its last good commit)
    sub = subscription.open_like(settings, config, objects)
    try:
        heads = dict(snap.good_sources) if good else at if at is not None else sub.heads()
        tracked = {r.name: sub.tree_id(commit, heads, r)
                   for r in wf.resources.values() if r.tracks_path is not None}
    finally:
        sub.close()
    commits, _ = config.commits_between(old if old and old != ZERO else None, new)
    asked, decisions = intake.file_requests(commits, config.read_blob,
                                            intake.trigger_runs_done(snap))
    if identity is not None:
        decisions = [d if d.error else replace(d, identity=identity) for d in decisions]
    return pushplan.plan_push(pushed, new, snap, good=good,
                              author=commits[-1].author if commits else "",
                              tracked_trees=tracked, source_commits=heads, triggers=asked,
                              decisions=decisions, previous=previous)


@dataclass(frozen=True)
class SourcePush:
    """A push to source `name` of the subscription: its branch moves to `new`, whose
    objects may still be in `objects` (a pre-receive hook's quarantine folder)."""

    name: str
    new: str
    objects: str | None = None


class Answerer:
    """Answers pushes of one HOME; long-lived in the controller (pushes over HTTP, and by
    path through HOME/answers.sock), where the state snapshot is re-read only when the
    state branch moved and only the files a push changed are parsed again."""

    def __init__(self, repo_path: Path, *, branch: str, state_branch: str,
                 settings: Settings | None = None, cache: LoadCache | None = None,
                 store: GitStateStore | None = None) -> None:
        """`cache` and `store`: the controller's (its reactor loads the commit a push's
        answer loaded, from the same per-file loads; and its store keeps the snapshot in
        step with its writes, where one of our own would read 5,000 records again after
        each pass). Both are shared under their locks."""
        self.repo_path = Path(repo_path)
        # its other sources load with each push; the controller sets it when gitline.yml's
        # sources change (`gitline repo add` while it runs)
        self.settings = settings
        self._branch = branch
        self._store = store or GitStateStore(repo_path, state_branch)
        self._cache = LoadCache() if cache is None else cache
        self._memo: replan.PlanMemo | None = None  # the last answer's plan
        self._lock = threading.Lock()  # one answer at a time: the store and cache are shared

    def warm(self) -> None:
        """Parse the branch's workflow once, so that the first push after a start is
        answered as quickly as the next ones."""
        try:
            config = ConfigRepo(self.repo_path, self._branch)
            head = config.head()
            if head:
                with self._lock:
                    subscription.load(self.settings, config, head, None, cache=self._cache)
        except Exception:  # noqa: BLE001 - only a head start: a push's answer says what fails
            return

    def __call__(self, old: str, new: str, *, reject_invalid: bool,
                 objects: str | None = None,
                 identity: approvals.Identity | None = None,
                 source: str = "") -> tuple[list[str], bool]:
        """(the lines to show the pusher, whether the push is refused). `objects`: the
        push's quarantined objects folder (a pre-receive hook's), inside the repository;
        `source`: the push is to that source of the subscription, not to config.git."""
        repo = self.repo_path
        if source:
            if self.settings is None or source not in {s.name for s in self.settings.sources}:
                raise ValueError(f"{source!r} is not a source of this HOME")
            repo = self.settings.source_path(source)
        if objects and not Path(objects).resolve().is_relative_to(
                (repo / "objects").resolve()):
            raise ValueError(f"{objects} is not inside {repo}/objects")
        config = ConfigRepo(self.repo_path, self._branch, objects=None if source else objects)
        pushed = SourcePush(source, new, objects) if source else None
        if pushed is not None:
            old = new = config.head() or ""
            if not new:  # nothing runs before config.git's first push (docs/subscriptions.md)
                return [f"gitline: source {source} is taken in once config.git has a commit"], \
                    False
        with self._lock, no_collection():
            plan = plan_commit(config, self._store, old, new, home=self.repo_path.parent,
                               identity=identity, cache=self._cache, settings=self.settings,
                               previous=self._memo, source=pushed)
            self._memo = plan.memo
        return pushwords.render(plan, reject_invalid=reject_invalid), \
            plan.refused(reject_invalid)


def main(argv: list[str]) -> int:
    """The pre-receive hook's Python half: `OLD NEW` of the config branch; GIT_DIR is the
    repository, HOME is its parent. Prints the answer; exits REFUSE to refuse the push."""
    from controller.settings import Settings, SettingsError

    old, new = argv
    repo = Path(os.environ.get("GIT_DIR", ".")).resolve()
    try:
        settings = Settings.load(repo.parent)
    except SettingsError as err:
        print(f"gitline: {err}; the push is accepted without a plan", file=sys.stderr)
        return 0
    # git keeps a pushed pack in a quarantine folder until pre-receive accepts it
    objects = os.environ.get("GIT_QUARANTINE_PATH") or os.environ.get("GIT_OBJECT_DIRECTORY")
    answer = Answerer(repo, branch=settings.branch, state_branch=settings.state_branch,
                      settings=settings)
    lines, refused = answer(old, new, reject_invalid=settings.reject_invalid, objects=objects)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return REFUSE if refused else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as err:  # noqa: BLE001 - never block a push because the answer broke
        print(f"gitline: no plan for this push ({type(err).__name__}: {err}); it is accepted",
              file=sys.stderr)
        sys.exit(0)
