"""Run records of one moment written as one commit: a burst costs a commit, not one per run.

The runs queued by one plan, or the starts and ends that executors reported since the last
pass, are collected here and written together by `flush` (`StateStore.record_runs`). Each
run keeps its own record: a commit holds at most one record per job, so
`git log -- jobs/<job>/run.yml` still shows every state of every run. Records are kept in
layers, one commit each: a job's next record goes to the layer after its previous one, so
the starts and ends of a pass are two commits, not one per run, and each job's records
stay in order. What must follow a record (listeners, forgetting a run the executor gave
back) waits for its commit, so nothing acts on a record before it is committed.

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
        self._layers: list[dict[str, _Pending]] = []  # each: job -> record, as added
        self._layer_of: dict[str, int] = {}  # job -> the layer of its newest record

    def __len__(self) -> int:
        return sum(len(layer) for layer in self._layers)

    def add(self, record: RunRecord, *, after: Callable[[], None] | None = None,
            refused: Callable[[Exception], None] | None = None) -> None:
        """Write `record` with the next flush; `after()` runs once it is committed,
        `refused(err)` instead if the store refuses it (else the error is raised)."""
        job = record.run.job
        index = self._layer_of.get(job, -1) + 1
        if index == len(self._layers):
            self._layers.append({})
        self._layers[index][job] = _Pending(record, after, refused)
        self._layer_of[job] = index

    def flush(self) -> None:
        """Commit what is pending, a commit per layer, each followed by its `after`
        hooks in order."""
        layers, self._layers, self._layer_of = self._layers, [], {}
        for layer in layers:
            self._commit(list(layer.values()))

    def _commit(self, pending: list[_Pending]) -> None:
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
