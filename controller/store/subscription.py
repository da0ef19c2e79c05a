"""The repositories of a subscription read as one: the main config repository and the
sources gitline.yml lists (HOME/repos/NAME.git), each at its own commit.

`workflow_files` is THE gathering of a subscription's workflow files, used by the
controller, the push answer and every command: a source's files are named `SOURCE:path`
(core/sourcenames.py), the main repository's keep their plain path. Which commit of each
source a workflow was loaded from is its `Heads`: the main commit plus {source: commit}.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from controller.core import model, sourcenames

Sources = Mapping[str, str]  # source name -> commit ("" = nothing pushed yet)


class Reader(Protocol):
    """What is read of each repository (ConfigRepo, or statereader.ConfigReader)."""

    def head(self) -> str | None: ...

    def workflow_files(self, commit: str,
                       is_workflow_file: Callable[[str], bool]) -> list[tuple[str, bytes]]: ...


@dataclass
class Subscription:
    """The main repository's reader and one reader per source, by name."""

    main: Any
    sources: dict[str, Any] = field(default_factory=dict)
    # the main repository's name (settings.name: its `<repo>_runCI`), for the loader
    main_name: str = sourcenames.DEFAULT_MAIN_NAME
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def heads(self) -> dict[str, str]:
        """The branch tip of each source ("" for a source nothing was pushed to yet)."""
        return {name: (reader.head() or "") for name, reader in sorted(self.sources.items())}

    def workflow_files(self, commit: str, sources: Sources | None,
                       is_workflow_file: Callable[[str], bool]) -> list[tuple[str, bytes]]:
        """The files of the main repository at `commit` and of each source at its commit
        in `sources` (None: at its head now), by loader path."""
        return workflow_files(self.main, commit, self.sources,
                              self.heads() if sources is None else sources, is_workflow_file)

    def origin(self, commit: str, sources: Sources) -> tuple[str, tuple[tuple[str, str], ...]]:
        """What workflow_files(commit, sources) reads: main `commit` and the commit of
        each source (for loader.loaded)."""
        return commit, tuple((name, sources.get(name, "")) for name in sorted(self.sources))

    def reader(self, source: str) -> Any:
        """The reader of `source` (MAIN: the main repository); KeyError if none."""
        return self.main if source == sourcenames.MAIN else self.sources[source]

    def tree_id(self, commit: str, sources: Sources, res: model.Resource) -> str:
        """The tree id of what gitRepo `res` tracks, in its source at its commit (main:
        `commit`, another: in `sources`); "" when there is none."""
        at = sources.get(res.tracks_source, "") if res.tracks_source else commit
        if not at or (res.tracks_source and res.tracks_source not in self.sources):
            return ""
        return self.reader(res.tracks_source).tree_id(at, res.tracks_path or "") or ""

    def close(self) -> None:
        for close in self._closers:
            close()


def workflow_files(main: Reader, commit: str, readers: Mapping[str, Reader], sources: Sources,
                   is_workflow_file: Callable[[str], bool]) -> list[tuple[str, bytes]]:
    """Every workflow file of the subscription: main's at `commit`, each source's at its
    commit in `sources` (a source without one adds nothing), named by loader path."""
    files = list(main.workflow_files(commit, is_workflow_file)) if commit else []
    for name in sorted(readers):
        at = sources.get(name, "")
        if at:
            files += [(sourcenames.join(name, path), data)
                      for path, data in readers[name].workflow_files(at, is_workflow_file)]
    return files


def source_paths(settings: Any) -> dict[str, Path]:
    """HOME/repos/NAME.git of each source of `settings` that exists on disk."""
    paths = {s.name: settings.source_path(s.name) for s in settings.sources}
    return {name: path for name, path in paths.items() if (path / "HEAD").exists()}


def branch_of(settings: Any, name: str) -> str:
    spec = next((s for s in settings.sources if s.name == name), None)
    return (spec.branch if spec else "") or settings.branch


def open_subscription(settings: Any, main: Any,
                      objects: Mapping[str, str] | None = None) -> Subscription:
    """The subscription of `settings` read through pygit2 (the controller's), around the
    main repository's reader `main`; `objects`: a source's pushed objects not in it yet
    (a pre-receive hook's quarantine folder), by source name."""
    from controller.store.configrepo import ConfigRepo

    objects = objects or {}
    return Subscription(main, {name: ConfigRepo(path, branch_of(settings, name),
                                                 objects=objects.get(name))
                               for name, path in source_paths(settings).items()},
                        main_name=settings.name)


def open_reading(settings: Any, main: Any) -> Subscription:
    """The same through one `git cat-file` per source (one-shot commands; close it)."""
    from controller.store.catfile import CatFile
    from controller.store.statereader import ConfigReader

    sub = Subscription(main, main_name=settings.name)
    for name, path in source_paths(settings).items():
        cat = CatFile(path)
        sub.sources[name] = ConfigReader(cat, branch_of(settings, name))
        sub._closers.append(cat.close)
    return sub


def loaded_from(commit: str, sources: Sources) -> list[dict[str, str]]:
    """Which commit of each source a workflow was loaded from, as status shows it."""
    return [{"source": sourcenames.MAIN or "(main)", "commit": commit},
            *({"source": n, "commit": c} for n, c in sorted(sources.items()))]


def open_like(settings: Any, main: Any,
              objects: Mapping[str, str] | None = None) -> Subscription:
    """The subscription read the way `main` is: cat-file readers for a ConfigReader (a
    one-shot command), pygit2 for a ConfigRepo (with a source's pushed `objects`, see
    open_subscription). No settings: `main` alone."""
    from controller.store.statereader import ConfigReader

    if settings is None or not settings.sources:
        return Subscription(main, main_name=settings.name if settings else
                            sourcenames.DEFAULT_MAIN_NAME)
    return open_reading(settings, main) if isinstance(main, ConfigReader) \
        else open_subscription(settings, main, objects)


def load(settings: Any, main: Any, commit: str, sources: Sources | None,
         objects: Mapping[str, str] | None = None, **options: Any) -> model.Workflow:
    """THE loading of a subscription's workflow outside the controller's loop: main
    `commit` with each source at its commit in `sources` (None: at its head now)."""
    from controller.core import loader

    sub = open_like(settings, main, objects)
    try:
        at = sub.heads() if sources is None else sources
        options.setdefault("main_name", sub.main_name)
        options["sources"] = frozenset(sub.sources)
        same = {k: v for k, v in options.items() if k != "cache"}
        done = loader.loaded(options.get("cache"), sub.origin(commit, at), **same)
        if done is not None:
            return done
        files = sub.workflow_files(commit, at, loader.is_workflow_file)
        return loader.load_workflow(files, origin=sub.origin(commit, at), **options)
    finally:
        sub.close()
