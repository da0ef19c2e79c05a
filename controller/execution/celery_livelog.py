"""Live logs of runs on Celery workers, mirrored into the controller's run folders.

A worker appends what a run prints to a bounded Redis stream (celery_worker._live_log);
the executor's thread calls `LogMirror.mirror` each step and appends the new entries to
<root>/<job>/<run>.log, where `gitline logs -f` and the web view read local runs too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from controller.core.runspec import RunSpec
from controller.execution import celery_worker, workspace
from controller.execution.celery_verdict import Tracked

log = logging.getLogger(__name__)


class LogMirror:
    """Where each followed run's stream was read up to; `root` None: nothing mirrored."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._ids: dict[str, bytes] = {}  # task id -> the last stream entry mirrored

    def restart(self, spec: RunSpec) -> None:
        """A run followed again after a controller restart: mirrored from its first entry."""
        if self.root is not None:
            workspace.live_log(workspace.workdir_for(spec, self.root)).unlink(missing_ok=True)

    def forget(self, task_id: str) -> None:
        self._ids.pop(task_id, None)

    def mirror(self, client: Any, runs: list[Tracked]) -> None:
        """Append what each run's worker printed since the last call to its live log.
        Raises what Redis raises (the caller knows an outage); a file it cannot write
        is logged and skipped."""
        if self.root is None or not runs:
            return
        tasks = {celery_worker.live_log_key(t.task_id): t for t in runs}
        answer = client.xread({k: self._ids.get(t.task_id, b"0-0") for k, t in tasks.items()},
                              count=1000)
        for key, entries in answer or []:
            t = tasks[key.decode() if isinstance(key, bytes) else key]
            path = workspace.live_log(workspace.workdir_for(t.spec, self.root))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("ab") as f:
                    for entry_id, fields in entries:
                        f.write(fields.get(b"d", b""))
                        self._ids[t.task_id] = entry_id
            except OSError:
                log.warning("cannot write the live log %s", path, exc_info=True)
