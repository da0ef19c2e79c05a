"""Opening a home's two branches: through pygit2 for the controller (it writes), through
one `git cat-file` for one-shot commands (no pygit2 to import). Both answer the same."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.core.errors import HomeError
from controller.settings import Settings

if TYPE_CHECKING:
    from controller.store.catfile import CatFile
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore
    from controller.store.statereader import ConfigReader, StateReader

    Config = ConfigRepo | ConfigReader
    State = GitStateStore | StateReader


def check_home(settings: Settings) -> None:
    """HomeError unless `settings.home` holds a config repository."""
    if not settings.repo_path.is_dir():
        home = settings.home
        raise HomeError(f"{home} is not a Gitline home: run `gitline init {home}`")


def open_config(settings: Settings) -> ConfigRepo:
    """The config branch through pygit2 (no state store opened beside it)."""
    from controller.store.configrepo import ConfigRepo

    check_home(settings)
    return ConfigRepo(settings.repo_path, settings.branch)


def open_repos(settings: Settings) -> tuple[ConfigRepo, GitStateStore]:
    """The config and state branches through pygit2: the controller's (it writes)."""
    from controller.store.gitstate import GitStateStore

    return (open_config(settings),
            GitStateStore(settings.repo_path, settings.state_branch,
                          logs_kept=settings.run_logs_kept))


def open_readers(settings: Settings) -> tuple[ConfigReader, StateReader, CatFile]:
    """Both branches read-only through one `git cat-file` (close the CatFile after):
    a one-shot command does not pay for importing pygit2."""
    from controller.store.statereader import open_readers as open_both

    check_home(settings)
    return open_both(settings.repo_path, settings.branch, settings.state_branch)
