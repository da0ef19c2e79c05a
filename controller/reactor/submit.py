"""The last sub-step of a pass: hand the runs that may start now to the executor.

Which runs may start is the core's (`planner.runnable_now`: serial jobs one at a time);
a run whose spec cannot be built (a secret it may not have) waits queued, with the reason
logged once, and is built again on a later pass.
"""

from __future__ import annotations

import logging

from controller.core import model, planner
from controller.reactor.recorder import Recorder
from controller.secrets import SecretsError

log = logging.getLogger("gitline")


class Submitter:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._unbuildable: dict[tuple[str, int], str] = {}  # run -> why it cannot be built

    def submit(self, wf: model.Workflow, snap: model.Snapshot) -> None:
        rec = self.recorder
        for name, hist in snap.jobs.items():
            job = wf.jobs.get(name)
            if job is None:
                continue
            for run in planner.runnable_now(job, hist):
                key = (name, run.number)
                if key in rec.submitted:
                    continue
                try:
                    spec = rec.specs.build(wf, job, run, snap)
                except SecretsError as err:  # waits, queued; built again on a later pass
                    if self._unbuildable.get(key) != str(err):
                        log.error("%s run %d waits: %s", name, run.number, err)
                    self._unbuildable[key] = str(err)
                    continue
                self._unbuildable.pop(key, None)
                rec.hand_over(spec)
