"""Run records of one moment written as one commit: a burst costs a commit, not one per run.

The runs queued by one plan, or the starts and ends that executors reported since the last
pass, are collected here and written together by `flush` (`StateStore.record_runs`). Each
run keeps its own record: a batch holds at most one record per job (a second one flushes
the first), so `git log -- jobs/<job>/run.yml` still shows every state of every run. What
must follow a record (listeners, forgetting a run the executor gave back) waits for the
flush, so nothing acts on a record before it is committed.

A record the store refuses (ValueError, TypeError: a bad state file path) would refuse
the whole commit; then each record is written alone, and the refused one goes to its
`refused` handler, as when each run was its own commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.store.statestore import RunRecord, StateStore


@dataclass(frozen=True)
class _Pending:
    record: RunRecord
    after: Callable[[], None] | None
    refused: Callable[[Exception], None] | None


class RunBatch:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: dict[str, _Pending] = {}  # job -> its record, in the order added

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, record: RunRecord, *, after: Callable[[], None] | None = None,
            refused: Callable[[Exception], None] | None = None) -> None:
        """Write `record` with the next flush; `after()` runs once it is committed,
        `refused(err)` instead if the store refuses it (else the error is raised)."""
        if record.run.job in self._pending:
            self.flush()
        self._pending[record.run.job] = _Pending(record, after, refused)

    def flush(self) -> None:
        """Commit what is pending (one commit), then run the `after` hooks in order."""
        pending = list(self._pending.values())
        self._pending.clear()
        if not pending:
            return
        try:
            self.store.record_runs([p.record for p in pending])
        except (ValueError, TypeError):
            if len(pending) == 1 and pending[0].refused is None:
                raise
            self._one_by_one(pending)
            return
        for p in pending:
            if p.after is not None:
                p.after()

    def _one_by_one(self, pending: list[_Pending]) -> None:
        """One commit per record, as before batching: the refused one is handled alone
        (an error without a handler is raised once the others are written)."""
        unhandled: Exception | None = None
        for p in pending:
            try:
                self.store.record_runs([p.record])
            except (ValueError, TypeError) as err:
                if p.refused is not None:
                    p.refused(err)
                elif unhandled is None:
                    unhandled = err
                continue
            if p.after is not None:
                p.after()
        if unhandled is not None:
            raise unhandled
