"""Input files too big for a task message: sent as references, fetched by the worker.

A RunSpec carries files (its inputs', its outputs' current state files, its previous
JOB_STATE); one over `BOUND` (a 5 MB file of a gitRepo checkout would make a 7 MB Redis
message) is sent as a `Ref` instead: where it is, its path, its size and the git blob id
of its content. The controller offers the content while the run
is in flight (`Offers`, answered at `GET /api/objects/<oid>` to tokens with the `worker`
scope: nothing else is served there, and nothing after the run ended); the worker fetches
it with its token (`fetch`), reads at most the size it was told and checks the blob id,
so neither a wrong answer nor a big one reaches the job.
"""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from typing import Any

from controller.core.runspec import RunSpec

BOUND = 1024 * 1024  # bytes: a file larger than this is not inlined in a task message
OID = re.compile(r"[0-9a-f]{40}")
OBJECTS_PATH = "/api/objects/"
FETCH_TIMEOUT = 60.0


class FetchError(Exception):
    """A referenced file could not be fetched whole and intact."""


def blob_oid(data: bytes) -> str:
    """The git blob id of `data` (what `git hash-object` says)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


PARTS = ("inputs", "outputs", "previous")  # where a RunSpec holds files


@dataclass(frozen=True)
class Ref:
    """File `path` of `part` number `index` (an input's, an output's, or the job's previous
    JOB_STATE): `size` bytes with git blob id `oid`."""

    part: str
    index: int
    path: str
    oid: str
    size: int

    def to_json(self) -> list[Any]:
        return [self.part, self.index, self.path, self.oid, self.size]

    @classmethod
    def from_json(cls, data: Any) -> Ref:
        part, index, path, oid, size = data
        if part not in PARTS:
            raise FetchError(f"not a part of a run: {part!r}")
        if not (isinstance(oid, str) and OID.fullmatch(oid)):
            raise FetchError(f"not a blob id: {oid!r}")
        return cls(part, int(index), str(path), oid, int(size))


def _file_sets(spec: RunSpec) -> list[tuple[str, int, dict[str, bytes]]]:
    return ([("inputs", i, x.files) for i, x in enumerate(spec.inputs)]
            + [("outputs", i, x.files) for i, x in enumerate(spec.outputs)]
            + [("previous", 0, spec.previous_state)])


def _with_files(spec: RunSpec, part: str, index: int, files: dict[str, bytes]) -> RunSpec:
    if part == "previous":
        return replace(spec, previous_state=files)
    items: list[Any] = list(getattr(spec, part))
    if not 0 <= index < len(items):
        raise FetchError(f"a reference to {part} {index}, which the run has not")
    items[index] = replace(items[index], files=files)
    if part == "inputs":
        return replace(spec, inputs=tuple(items))
    return replace(spec, outputs=tuple(items))


def offload(spec: RunSpec, bound: int = BOUND) -> tuple[RunSpec, list[Ref], dict[str, bytes]]:
    """`spec` with every file over `bound` emptied, the references to them, and their
    contents by blob id (what the controller offers while the run is in flight)."""
    refs: list[Ref] = []
    blobs: dict[str, bytes] = {}
    light = spec
    for part, index, files in _file_sets(spec):
        big = {path: data for path, data in files.items() if len(data) > bound}
        for path, data in sorted(big.items()):
            oid = blob_oid(data)
            refs.append(Ref(part, index, path, oid, len(data)))
            blobs[oid] = data
        if big:
            light = _with_files(light, part, index,
                                {p: b"" if p in big else d for p, d in files.items()})
    return light, refs, blobs


def fill(spec: RunSpec, refs: list[Ref], blobs: dict[str, bytes]) -> RunSpec:
    """`spec` with the referenced files' contents put back."""
    for ref in refs:
        files = dict(spec.previous_state) if ref.part == "previous" else None
        if files is None:
            items = getattr(spec, ref.part)
            if not 0 <= ref.index < len(items):
                raise FetchError(f"a reference to {ref.part} {ref.index}, which the run has not")
            files = dict(items[ref.index].files)
        files[ref.path] = blobs[ref.oid]
        spec = _with_files(spec, ref.part, ref.index, files)
    return spec


def fetch(base_url: str, token: str, ref: Ref) -> bytes:
    """The content of `ref` from the controller at `base_url`, checked against its id."""
    request = urllib.request.Request(base_url.rstrip("/") + OBJECTS_PATH + ref.oid,
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as answer:  # noqa: S310
            data: bytes = answer.read(ref.size + 1)  # never more than was announced
    except urllib.error.HTTPError as err:
        raise FetchError(f"{ref.path}: the controller answered {err.code} for object "
                         f"{ref.oid}: {err.read(500).decode(errors='replace').strip()}") \
            from err
    except OSError as err:
        raise FetchError(f"{ref.path}: cannot fetch object {ref.oid} from the controller "
                         f"{base_url}: {err}") from err
    if len(data) != ref.size or blob_oid(data) != ref.oid:
        raise FetchError(f"{ref.path}: the controller's object {ref.oid} is not the "
                         f"{ref.size} bytes the run was sent with")
    return data


class Offers:
    """The contents the controller serves to workers, each while a run that refers to it
    is in flight (counted per run, so two runs of one file share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, bytes] = {}
        self._users: dict[str, set[str]] = {}  # oid -> the task ids that refer to it

    def offer(self, task_id: str, blobs: dict[str, bytes]) -> None:
        with self._lock:
            for oid, data in blobs.items():
                self._blobs[oid] = data
                self._users.setdefault(oid, set()).add(task_id)

    def withdraw(self, task_id: str) -> None:
        with self._lock:
            for oid in [o for o, users in self._users.items() if task_id in users]:
                self._users[oid].discard(task_id)
                if not self._users[oid]:
                    del self._users[oid], self._blobs[oid]

    def get(self, oid: str) -> bytes | None:
        """The content of blob `oid` if a run in flight refers to it, else None."""
        with self._lock:
            return self._blobs.get(oid)
