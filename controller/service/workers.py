"""Who runs jobs for this controller: its Celery workers and the queues its jobs use
(`gitline workers`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.core.errors import Invalid
from controller.settings import Settings

if TYPE_CHECKING:
    from controller.execution.workerlist import Survey
    from controller.service.repos import Config, State


def workflow_queues(settings: Settings, config: Config, store: State) -> set[str]:
    """The default queue and every nodePool of the last good workflow."""
    from controller.store import subscription

    snap = store.read_snapshot()
    wf = subscription.load(settings, config, snap.good_commit, snap.good_sources) \
        if snap.good_commit else None
    pools = {job.node_pool.strip() for job in wf.jobs.values()} if wf else set()
    return {settings.default_queue} | {p for p in pools if p}


def survey(settings: Settings, config: Config, store: State) -> Survey:
    """Ask this controller's broker who is there; Invalid when it runs jobs locally."""
    if settings.executor != "celery":
        raise Invalid(f"{settings.home} runs jobs itself (executor: {settings.executor}); "
                      "workers take runs only with executor: celery")
    from controller.execution import sealing, workerlist

    return workerlist.survey(settings.broker_url, sealing.home_key(settings.home),
                             workflow_queues(settings, config, store))
