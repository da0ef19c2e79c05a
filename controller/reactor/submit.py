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
        # job -> (its history, the runs it could start): all handed over by an earlier
        # pass. A pass of a burst visits 1,000 jobs whose histories mostly did not change
        # since the last one (histories are immutable: a record replaces the job's).
        self._handed: dict[str, tuple[model.JobHistory, tuple[tuple[str, int], ...]]] = {}
        self._workflow: model.Workflow | None = None

    def submit(self, wf: model.Workflow, snap: model.Snapshot) -> None:
        rec = self.recorder
        if wf is not self._workflow:  # a job's definition says which of its runs may start
            self._handed.clear()
            self._workflow = wf
        for name, hist in snap.jobs.items():
            done = self._handed.get(name)
            if done is not None and done[0] is hist and all(k in rec.submitted
                                                            for k in done[1]):
                continue
            job = wf.jobs.get(name)
            if job is None:
                continue
            runs = planner.runnable_now(job, hist)
            if self._hand_over(wf, job, runs, snap):
                self._handed[name] = (hist, tuple((name, run.number) for run in runs))
            else:
                self._handed.pop(name, None)

    def _hand_over(self, wf: model.Workflow, job: model.Job, runs: list[model.Run],
                   snap: model.Snapshot) -> bool:
        """Hand over those of `runs` not handed over yet; False if one must wait."""
        rec = self.recorder
        every = True
        for run in runs:
            key = (job.name, run.number)
            if key in rec.submitted:
                continue
            try:
                spec = rec.specs.build(wf, job, run, snap)
            except SecretsError as err:  # waits, queued; built again on a later pass
                if self._unbuildable.get(key) != str(err):
                    log.error("%s run %d waits: %s", job.name, run.number, err)
                self._unbuildable[key] = str(err)
                every = False
                continue
            self._unbuildable.pop(key, None)
            rec.hand_over(spec)
        return every
