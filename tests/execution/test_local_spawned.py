"""LocalExecutor.wait_spawned: the reconcile pass waits for a run's first process (not
its start report, which comes before it) before its next commit."""

from __future__ import annotations

import threading
from pathlib import Path

from controller.execution.local import LocalExecutor
from tests.harness.runspecs import make_spec


def test_wait_spawned_returns_once_the_first_process_runs(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1)
    done = threading.Event()
    try:
        assert executor.wait_spawned("build", 1, 0.01) is False  # not handed over
        spec = make_spec('while [ ! -e "$SHARED_DIR/go" ]; do sleep 0.05; done')
        executor.submit(spec, lambda s, at: None, lambda s, o: done.set())
        assert executor.wait_spawned("build", 1, 10)
        (tmp_path / "build" / "1" / "shared" / "go").touch()
        assert done.wait(10)
        assert executor.wait_spawned("build", 1, 0.01) is False  # over: no longer held
    finally:
        executor.shutdown(wait=True)


def test_a_queued_run_has_not_spawned(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path, workers=1)
    try:
        executor.submit(make_spec('while [ ! -e "$SHARED_DIR/go" ]; do sleep 0.05; done'),
                        lambda s, at: None, lambda s, o: None)
        executor.submit(make_spec("true", number=2), lambda s, at: None, lambda s, o: None)
        assert executor.wait_spawned("build", 1, 10)
        assert executor.wait_spawned("build", 2, 0.2) is False  # waits for a worker
        (tmp_path / "build" / "1" / "shared" / "go").touch()
    finally:
        executor.shutdown(wait=True)
