"""The sources of a running controller, kept in step with gitline.yml's `sources:`.

At start and whenever gitline.yml changes (checked at each pass: one stat), each source
listed there gets its repository (HOME/repos/NAME.git, made if missing, its hook
refreshed), a reader in the subscription, a watcher on its refs (a push reconciles at
once), an entry in the git server's map (`/repos/NAME.git`) and, when followed, a follower
of its upstream; a source no longer listed loses them. So `gitline repo add` takes effect
without a restart. Changes happen in the loop thread, between passes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.core.subscription import SourceSpec, StatusTarget, status_targets
from controller.reactor.upstream import UpstreamFollower
from controller.reactor.watcher import RefWatcher
from controller.store.configrepo import ConfigRepo
from controller.store.repoinit import init_source
from controller.store.subscription import Subscription

log = logging.getLogger("gitline")

# source name -> (its bare repository, its branch, followed): what the git server serves
GitSources = dict[str, tuple[Path, str, bool]]


class SourceSet:
    def __init__(self, settings: Any, sub: Subscription, poke: Callable[[], None], *,
                 follower: Callable[[SourceSpec], UpstreamFollower],
                 on_follow: Callable[[SourceSpec, UpstreamFollower], None],
                 on_unfollow: Callable[[str], None]) -> None:
        self.settings = settings  # as at start (its HOME and branch)
        self.current = settings  # gitline.yml as last taken in
        self.sub = sub
        self.git: GitSources = {}  # shared with the git server (read by its threads)
        self.followers: dict[str, UpstreamFollower] = {}
        self._poke = poke
        self._follower = follower
        self._on_follow = on_follow
        self._on_unfollow = on_unfollow
        self._watchers: dict[str, RefWatcher] = {}
        self._specs: dict[str, SourceSpec] = {}
        self._started = False
        self._stamp = self._settings_stamp()
        self._main_status = settings.commit_status, settings.upstream
        self._apply(settings.sources)

    def status_targets(self) -> dict[str, StatusTarget]:
        """Where each repository's runCI statuses go, as gitline.yml says now."""
        main, upstream = self._main_status
        return status_targets(main, list(self._specs.values()), upstream)

    def _settings_stamp(self) -> tuple[int, int]:
        try:
            st = (Path(self.settings.home) / "gitline.yml").stat()
            return st.st_mtime_ns, st.st_size
        except OSError:
            return 0, 0

    def taken_in(self, timeout: float) -> bool:
        """Wait (another thread, having poked the loop) until the loop has read gitline.yml
        as it is now; False after `timeout` seconds."""
        import time

        stamp, deadline = self._settings_stamp(), time.monotonic() + timeout
        while self._stamp != stamp:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def start(self) -> None:
        self._started = True
        for watcher in self._watchers.values():
            watcher.start()

    def stop(self) -> None:
        for watcher in self._watchers.values():
            watcher.stop()

    def refresh(self) -> bool:
        """Take in gitline.yml's sources if the file changed; True when they did."""
        stamp = self._settings_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        from controller.settings import Settings, SettingsError

        try:
            fresh = Settings.load(self.settings.home)
        except SettingsError as err:  # keep what runs; say why the change is not taken
            log.error("gitline: %s; the sources stay as they were", err)
            return False
        self._main_status = fresh.commit_status, fresh.upstream
        self.current = fresh
        return self._apply(fresh.sources)

    def _apply(self, specs: tuple[SourceSpec, ...]) -> bool:
        wanted = {s.name: s for s in specs}
        changed = False
        for name in [n for n in self._specs if wanted.get(n) != self._specs[n]]:
            self._drop(name)
            changed = True
        for name, spec in wanted.items():
            if name not in self._specs:
                self._add(spec)
                changed = True
        return changed

    def _add(self, spec: SourceSpec) -> None:
        s = self.settings
        branch = spec.branch or s.branch
        path = init_source(s.home, spec.name, branch, upstream=spec.followed)
        self._specs[spec.name] = spec
        self.sub.sources[spec.name] = ConfigRepo(path, branch)
        watcher = RefWatcher(path, self._poke)
        self._watchers[spec.name] = watcher
        if self._started:
            watcher.start()
            log.info("gitline: source %s (%s) taken in", spec.name,
                     f"follows {spec.upstream}" if spec.followed else f"served at {path}")
        self.git[spec.name] = (path, branch, spec.followed)
        if spec.followed:
            self.followers[spec.name] = self._follower(spec)
            self._on_follow(spec, self.followers[spec.name])

    def _drop(self, name: str) -> None:
        self.git.pop(name, None)
        self.sub.sources.pop(name, None)
        watcher = self._watchers.pop(name, None)
        if watcher is not None and self._started:
            watcher.stop()
        if self.followers.pop(name, None) is not None:
            self._on_unfollow(name)
        self._specs.pop(name, None)
        log.info("gitline: source %s is no longer listed in gitline.yml", name)
