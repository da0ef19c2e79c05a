"""Which jobs and resources the running workflow has, and the checks that a name is one."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import TYPE_CHECKING

from controller.core import model
from controller.core.errors import NotFound

if TYPE_CHECKING:
    from controller.service.repos import Config, State
    from controller.settings import Settings


def _hint(name: str, names: Collection[str], listed: str) -> str:
    ordered = sorted(names)
    close = difflib.get_close_matches(name, ordered, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f" ({listed}: {', '.join(ordered)})" if ordered and len(ordered) <= 12 else ""


def check_job(names: Collection[str], job: str) -> None:
    """NotFound, with the nearest name as a suggestion, unless `job` is one of `names`."""
    if job not in names:
        raise NotFound(f"no job {job!r}{_hint(job, names, 'jobs')}")


def check_name(jobs: Collection[str], resources: Collection[str], name: str) -> None:
    """NotFound unless `name` is a job or a resource."""
    names = set(jobs) | set(resources)
    if name not in names:
        raise NotFound(f"no job or resource {name!r}{_hint(name, names, 'jobs')}")


def running_workflow(config: Config, store: State, snap: model.Snapshot | None = None,
                     settings: Settings | None = None) -> model.Workflow:
    """The workflow the controller runs: the last good config, else the config head
    (a home whose controller has not run yet); with `settings`, of every source."""
    from controller.store import subscription  # ruamel: only for the commands that need it

    snap = snap or store.read_snapshot()
    commit = snap.good_commit or config.head()
    if not commit:
        return model.Workflow()
    return subscription.load(settings, config, commit,
                             snap.good_sources if snap.good_commit else None)


def running_names(config: Config, store: State) -> tuple[set[str], set[str]]:
    """Job and resource names of the running workflow: as the controller recorded them in
    controller/config.yml, else (no controller has recorded them yet) from its YAML."""
    record = store.read_config_record()
    jobs, resources = record.get("jobs"), record.get("resources")
    if record.get("good") and isinstance(jobs, list) and isinstance(resources, list):
        return {str(n) for n in jobs}, {str(n) for n in resources}
    wf = running_workflow(config, store)
    return set(wf.jobs), set(wf.resources)
