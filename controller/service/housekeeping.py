"""`gitline gc HOME`: the housekeeping at once, each step saying what it freed.

The state branch's repository is packed into one pack, unreachable objects older than two
weeks pruned and the commit-graph (changed-path Bloom filters) rewritten as one layer;
old run folders go (the newest 3 of each job, all of a job no longer in the workflow,
never one a run holds); mirrors of repositories no resource follows any more go (not
one fetched in the last hour: a run may still check out of it); HOME/pushes.jsonl is
rotated (or trimmed to `keep_pushes` entries). Safe beside a running controller.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from controller.settings import Settings

MIRROR_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class Freed:
    """One step's result: bytes before and after, objects (or files) it removed."""

    line: str
    bytes_freed: int = 0


def folder_size(path: Path) -> int:
    """Bytes of the regular files under `path` (links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if abs(size) >= 1e6 else f"{size / 1e3:.0f} KB"


def pack_repository(settings: Settings) -> Freed:
    from controller.store.maintenance import collect, count_objects

    repo = settings.repo_path
    before, counts = folder_size(repo), count_objects(repo)
    collect(repo)
    after, now = folder_size(repo), count_objects(repo)
    objects = counts.get("count", 0) + counts.get("in-pack", 0)
    left = now.get("count", 0) + now.get("in-pack", 0)
    return Freed(f"packed {repo} and wrote its commit-graph: {mb(before)} -> {mb(after)}; "
                 f"{counts.get('count', 0):,} loose objects packed, {objects - left:,} "
                 f"unreachable removed, {left:,} objects in {now.get('packs', 0)} pack(s)",
                 before - after)


def _running_jobs_and_mirrors(settings: Settings) -> tuple[set[str], set[Path]] | None:
    """Folder names of the running workflow's jobs and the mirrors its gitRepo resources
    use; None when it does not load (then nothing of either kind is removed)."""
    from controller.execution.workspace import job_folder
    from controller.reactor.repopoller import RepoPoller
    from controller.secrets import load_secrets
    from controller.service.names import running_workflow
    from controller.service.repos import open_repos

    try:
        config, store = open_repos(settings)
        wf = running_workflow(config, store)
        secrets = load_secrets(settings.home)
    except Exception:  # a broken workflow or secrets file: keep everything
        return None
    poller = RepoPoller(settings.home / "cache", workflow=lambda: wf, latest=lambda n: None,
                        add_version=lambda *a, **k: None, poke=lambda: None,
                        secrets=lambda: secrets)
    mirrors = {poller.mirror(url) for _, url in poller.resources().values()}
    return {job_folder(j) for j in wf.jobs}, mirrors


def prune_workspaces(settings: Settings, jobs: set[str] | None) -> Freed:
    from controller.execution.workspace import KEEP_WORKDIRS, prune_workdirs

    root, removed, freed = settings.work_root, 0, 0
    for job_dir in sorted(root.iterdir()) if root.is_dir() else []:
        if job_dir.is_dir() and not job_dir.is_symlink():
            size = folder_size(job_dir)
            gone = jobs is not None and job_dir.name not in jobs  # a job no longer defined
            removed += len(prune_workdirs(job_dir, 0 if gone else KEEP_WORKDIRS))
            freed += size - folder_size(job_dir)
    return Freed(f"removed {removed} old run folder(s) under {root}: {mb(freed)}", freed)


def prune_mirrors(settings: Settings, used: set[Path] | None) -> Freed:
    folder = settings.home / "cache" / "repos"
    removed, freed = 0, 0
    if used is not None and folder.is_dir():
        for mirror in sorted(folder.glob("*.git")):
            fetched = max((p.stat().st_mtime for p in (mirror, mirror / "FETCH_HEAD")
                           if p.exists()), default=0.0)
            if mirror in used or time.time() - fetched < MIRROR_GRACE_SECONDS:
                continue
            size = folder_size(mirror)
            shutil.rmtree(mirror, ignore_errors=True)
            removed, freed = removed + 1, freed + size - folder_size(mirror)
    return Freed(f"removed {removed} mirror(s) of repositories no resource follows under "
                 f"{folder}: {mb(freed)}", freed)


def rotate_pushes(settings: Settings, keep: int | None) -> Freed:
    from controller.store.pushlog import PushLog

    log = PushLog(settings.home, settings.pushes_rotate_lines, settings.pushes_rotated_kept)
    before = sum(p.stat().st_size for p in log.files() if p.exists())
    dropped = log.rotate_due() if keep is None else log.rotate(keep)
    after = sum(p.stat().st_size for p in log.files() if p.exists())
    return Freed(f"dropped {dropped} old entr{'y' if dropped == 1 else 'ies'} of pushes.jsonl",
                 before - after)


def collect_garbage(settings: Settings, keep_pushes: int | None = None) -> list[Freed]:
    """Every step, in order; the last line is the total."""
    found = _running_jobs_and_mirrors(settings)
    steps = [pack_repository(settings),
             prune_workspaces(settings, found[0] if found else None),
             rotate_pushes(settings, keep_pushes),
             prune_mirrors(settings, found[1] if found else None)]
    total = sum(s.bytes_freed for s in steps)
    return [*steps, Freed(f"freed {mb(total)} in all", total)]
