"""The StateStore protocol: how the controller reads and appends to the state branch.

Every write is one commit appended with compare-and-swap on the branch ref; a write that
loses the race re-reads the tip and tries again, so nothing is ever overwritten.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from controller.core import model


@dataclass(frozen=True)
class HistoryEntry:
    """One commit of an object's history, newest first when listed."""

    commit: str
    subject: str
    when: str  # ISO 8601 UTC of the commit
    version: model.Version | None = None  # for a resource
    run: model.Run | None = None  # for a job


@dataclass(frozen=True)
class RunRecord:
    """One run record to write (what `record_run` takes), for `record_runs`."""

    run: model.Run
    log: str | None = None
    state_files: dict[str, bytes] | None = None
    subject: str = ""


class StateStore(Protocol):
    def read_snapshot(self) -> model.Snapshot: ...

    def append_version(self, version: model.Version, *, subject: str = "") -> str:
        """One commit: resources/<name>/version.yml (and files/ if version.files is set)."""
        ...

    def append_versions(self, versions: Sequence[model.Version], *, subject: str = "") -> str:
        """Versions decided together: each its own commit as `append_version` writes it, in
        order; the branch moves once (the git store writes them as one pack)."""
        ...

    def record_run(
        self,
        run: model.Run,
        *,
        log: str | None = None,
        state_files: dict[str, bytes] | None = None,
        subject: str = "",
    ) -> str:
        """One commit: jobs/<name>/run.yml, active/<n>.yml, log.txt, state/."""
        ...

    def record_runs(self, records: list[RunRecord]) -> str:
        """One commit for runs of different jobs recorded at the same moment (each job's
        files as `record_run` writes them, one trailer group per run); nothing is written
        if one of them is refused (ValueError, TypeError)."""
        ...

    def record_config(
        self,
        *,
        processed: str,
        good: str,
        problems: tuple[model.Problem, ...],
        triggers: tuple[model.TriggerRequest, ...] = (),
        waiting: tuple[model.TriggerRequest, ...] | None = None,
        names: model.Workflow | None = None,
        subject: str = "",
        sources: dict[str, dict[str, str]] | None = None,
    ) -> str:
        """One commit: controller/config.yml (processed, good, problems, refused triggers
        kept with earlier ones, waiting triggers (None: as they are), and the job and
        resource names of `names`, the good workflow)."""
        ...

    def record_waiting(self, waiting: tuple[model.TriggerRequest, ...],
                       refused: tuple[model.TriggerRequest, ...] = ()) -> str:
        """One commit: the trigger files still waiting, and the ones now refused."""
        ...

    def read_files(self, prefix: str, at: str = "") -> dict[str, bytes]:
        """Files under a folder of the tip tree (or of state commit `at`), e.g.
        "resources/tf_state/files"."""
        ...

    def read_file(self, path: str, at: str = "") -> bytes | None:
        """One file of the tip tree (or of state commit `at`); None if there is none."""
        ...

    def history(self, name: str, limit: int = 100) -> Iterator[HistoryEntry]:
        """Versions of a resource or runs of a job, newest first."""
        ...

    def read_log(self, job: str, number: int | None = None) -> str | None: ...

    def read_config_record(self) -> dict[str, Any]: ...
