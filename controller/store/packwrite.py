"""The objects of a burst of commits, written as one pack file instead of loose files.

A loose object is a file created in objects/xx/ (a temporary file, a link, an unlink):
on the controller's disk that costs 0.2-2 ms per object, and a version writes five
(its blob, two folders, the root tree, the commit). When a pass decides several writes at
once (the versions of a push, of a poll), `held(repo)` keeps every object the repository
writes in memory, readable as any other (a later commit of the chain reads the trees of
the one before), and `install` writes them as one pack: two files, however many objects.

The pack is complete before anything names it: pack and index are written to temporary
files, fsync'd (as git does for packs), and renamed into place, the `.idx` last (readers
find packs by their index). Only then may a ref move to a commit inside it, so a kill -9
at any point leaves either no pack (temporary files, which `git gc` removes) or a pack
whose objects nothing names yet (pruned by `gitline gc`). Small packs are consolidated by
the controller's housekeeping (maintenance.py, `git repack --geometric`).

The pack and index formats are git's (version 2); a wide tree (resources/, 35 KB at 1,000
resources) is written as a delta of the one before it in the pack (their common start and
end copied), which costs less than compressing it again. Written here rather than with
dulwich, whose pack API changed between the versions the project accepts, and whose
delta search is in Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
import threading
import weakref
import zlib
from collections.abc import Iterator
from pathlib import Path

import pygit2

# oid (20 bytes) -> (git object type: 1 commit, 2 tree, 3 blob, 4 tag; its content)
Objects = dict[bytes, tuple[int, bytes]]

COMPRESSION = 1  # libgit2's own level for loose objects; repack compresses again anyway
# A long burst writes what it holds as a pack of its own once it holds this much: the
# first push of a 5,000-resource workflow is 5,001 commits, each with a new resources/
# tree of up to ~250 KB, which held whole until the end took ~600 MB (bench section 10).
# In process, 5,000 versions at once: peak 130 MB at 32 MB held, 80 at 8, 71 at 4 (104
# packs for the housekeeping to roll up), 66 at 1; 5.4, 5.9, 6.6 and 10.3 s.
SPILL_BYTES = 8 * 1024 * 1024


class HeldObjects(pygit2.OdbBackend):
    """An object database backend that keeps what is written to it in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: Objects = {}
        self.size = 0  # bytes held

    def take(self) -> Objects:
        """What is held, handed over: none is held after (nor kept past a burst)."""
        objects, self.objects, self.size = self.objects, {}, 0
        return objects

    def keep(self, raw: bytes, kind: int, data: bytes) -> None:
        if raw not in self.objects:
            self.objects[raw] = (kind, data)
            self.size += len(data)

    def _get(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        found = self.objects.get(oid.raw)
        if found is None:
            raise KeyError(str(oid))  # not found: libgit2 asks the next backend
        return found

    def write_cb(self, oid: pygit2.Oid, data: bytes, kind: int) -> None:
        self.keep(oid.raw, kind, bytes(data))

    def read_cb(self, oid: pygit2.Oid) -> tuple[int, bytes]:
        return self._get(oid)

    def read_prefix_cb(self, hex_prefix: str) -> tuple[int, bytes, pygit2.Oid]:
        if len(hex_prefix) < 40:  # the store names objects in full; short ids are a user's
            raise KeyError(hex_prefix)
        oid = pygit2.Oid(hex=hex_prefix)
        kind, data = self._get(oid)
        return kind, data, oid

    def read_header_cb(self, oid: pygit2.Oid) -> tuple[int, int]:
        kind, data = self._get(oid)
        return kind, len(data)

    def exists_cb(self, oid: pygit2.Oid) -> bool:
        return oid.raw in self.objects

    def exists_prefix_cb(self, hex_prefix: str) -> pygit2.Oid:
        raise KeyError(hex_prefix)

    def refresh_cb(self) -> None:
        return None


def _burst_odb(repo: pygit2.Repository, held: HeldObjects) -> pygit2.Odb:
    """The repository's objects (packs, loose, alternates) for reading, `held` on top: the
    first backend that can write takes every write."""
    objects = Path(repo.path) / "objects"
    odb = pygit2.Odb()
    odb.add_backend(held, 3)
    odb.add_backend(pygit2.OdbBackendPack(str(objects)), 2)
    odb.add_backend(pygit2.OdbBackendLoose(str(objects), -1, False), 1)
    with contextlib.suppress(FileNotFoundError):
        for line in (objects / "info" / "alternates").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                odb.add_disk_alternate(str(objects / line.strip()))
    return odb


_HOLDING: dict[int, HeldObjects] = {}  # id(repository) -> its objects, while held
_TYPE_NAMES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
# A repository's odb for bursts, made once (pygit2 keeps its backends' wrappers for ever).
_BURST_ODBS: weakref.WeakKeyDictionary[pygit2.Repository, tuple[pygit2.Odb, HeldObjects]] = \
    weakref.WeakKeyDictionary()
_BURST_LOCK = threading.Lock()


@contextlib.contextmanager
def held(repo: pygit2.Repository) -> Iterator[HeldObjects]:
    """While inside, objects `repo` writes are kept in memory (and read from there); the
    repository's own object database is back on exit. `install` them before naming them.
    Not reentrant, and `repo` is used by one thread at a time (as the store does)."""
    with _BURST_LOCK:
        found = _BURST_ODBS.get(repo)
        if found is None:
            keep = HeldObjects()
            found = _BURST_ODBS[repo] = (_burst_odb(repo, keep), keep)
    odb, keep = found
    keep.take()
    own = repo.odb
    repo.set_odb(odb)
    _HOLDING[id(repo)] = keep
    try:
        yield keep
    finally:
        del _HOLDING[id(repo)]
        repo.set_odb(own)


def write(repo: pygit2.Repository, kind: int, data: bytes) -> pygit2.Oid:
    """`repo.odb.write`, but while `repo` holds its objects they are hashed here: libgit2's
    collision-detecting SHA-1 costs ~0.2 ms on a 35 KB tree, OpenSSL's a fifth of that
    (the store hashes only what it has just built itself)."""
    keep = _HOLDING.get(id(repo))
    if keep is None:
        return repo.odb.write(kind, data)
    raw = hashlib.sha1(b"%s %d\0%s" % (_TYPE_NAMES[kind], len(data), data)).digest()
    keep.keep(raw, kind, data)
    return pygit2.Oid(raw=raw)


def spill(repo: pygit2.Repository, limit: int | None = None) -> None:
    """While `repo` holds its objects: once they reach `limit` bytes (SPILL_BYTES), write
    them as a pack and hold on with none. Nothing names them yet, as with any pack of a
    burst before its ref moves; a burst given up leaves packs that `gitline gc` prunes."""
    keep = _HOLDING.get(id(repo))
    if keep is not None and keep.size >= (SPILL_BYTES if limit is None else limit):
        install(repo, keep.take())


DELTA_FROM = 1024  # trees from this size are written as a delta of the previous one
DELTA_DEPTH = 50  # git's default: a read applies at most this many deltas
_OFS_DELTA = 6


def _varint(size: int) -> bytes:
    """A size in a delta's header: 7 bits a byte, least significant first."""
    out = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _entry_header(kind: int, size: int) -> bytes:
    """A pack entry's type and (inflated) size, as git encodes them."""
    byte = (kind << 4) | (size & 0x0F)
    size >>= 4
    header = bytearray()
    while size:
        header.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    header.append(byte)
    return bytes(header)


def _base_distance(distance: int) -> bytes:
    """How far back an OFS_DELTA's base starts, in git's offset encoding."""
    out = [distance & 0x7F]
    distance >>= 7
    while distance:
        distance -= 1
        out.append(0x80 | (distance & 0x7F))
        distance >>= 7
    return bytes(reversed(out))


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # a binary search over slices compared in C
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _copy(offset: int, size: int) -> bytes:
    """A delta instruction: copy `size` bytes of the base from `offset`."""
    flags, args = 0x80, bytearray()
    for bit in range(4):
        if (offset >> (8 * bit)) & 0xFF:
            flags |= 1 << bit
            args.append((offset >> (8 * bit)) & 0xFF)
    for bit in range(3):
        if (size >> (8 * bit)) & 0xFF:
            flags |= 0x10 << bit
            args.append((size >> (8 * bit)) & 0xFF)
    return bytes([flags]) + bytes(args)


def delta(base: bytes, data: bytes) -> bytes | None:
    """`data` as git's delta of `base` (their common start and end copied, the middle
    inserted), or None when that saves little. A commit's tree differs from the one before
    in a few entries, so this is most of what a repack would find."""
    head = _common_prefix(base, data)
    tail = _common_prefix(base[head:][::-1], data[head:][::-1])
    middle = data[head:len(data) - tail]
    if len(middle) > len(data) // 2 or len(data) >= 0x1000000:
        return None
    out = bytearray(_varint(len(base)) + _varint(len(data)))
    if head:
        out += _copy(0, head)
    for at in range(0, len(middle), 127):
        chunk = middle[at:at + 127]
        out += bytes([len(chunk)]) + chunk
    if tail:
        out += _copy(len(base) - tail, tail)
    return bytes(out)


def pack_and_index(objects: Objects) -> tuple[bytes, bytes, bytes]:
    """(pack, idx, pack checksum) of `objects`, in git's formats (version 2)."""
    pack = bytearray(b"PACK" + struct.pack(">II", 2, len(objects)))
    entries: list[tuple[bytes, int, int]] = []
    bases: dict[bytes, tuple[int, bytes, int]] = {}  # a tree's start -> offset, data, depth
    for oid, (kind, data) in objects.items():
        offset = len(pack)
        entry, depth = b"", 0
        if kind == 2 and len(data) >= DELTA_FROM:  # a wide tree: a delta of the last one
            found = bases.get(data[:64])
            diff = delta(found[1], data) if found and found[2] < DELTA_DEPTH else None
            if found and diff is not None:
                depth = found[2] + 1
                entry = (_entry_header(_OFS_DELTA, len(diff)) + _base_distance(
                    offset - found[0]) + zlib.compress(diff, COMPRESSION))
            bases[data[:64]] = (offset, data, depth)
        if not entry:
            entry = _entry_header(kind, len(data)) + zlib.compress(data, COMPRESSION)
        entries.append((oid, offset, zlib.crc32(entry)))
        pack += entry
    checksum = hashlib.sha1(pack).digest()
    pack += checksum
    return bytes(pack), _index(entries, checksum), checksum


def _index(entries: list[tuple[bytes, int, int]], checksum: bytes) -> bytes:
    """The pack's index (version 2): entries (oid, offset, crc32) sorted by oid."""
    entries.sort()
    fanout, at = [], 0
    for first in range(256):
        while at < len(entries) and entries[at][0][0] == first:
            at += 1
        fanout.append(at)
    large: list[int] = []
    offsets = []
    for _, offset, _ in entries:
        if offset < 0x80000000:
            offsets.append(offset)
        else:
            offsets.append(0x80000000 | len(large))
            large.append(offset)
    idx = bytearray(b"\377tOc" + struct.pack(">I", 2))
    idx += struct.pack(">256I", *fanout)
    idx += b"".join(oid for oid, _, _ in entries)
    idx += struct.pack(f">{len(entries)}I", *(crc for _, _, crc in entries))
    idx += struct.pack(f">{len(offsets)}I", *offsets)
    idx += struct.pack(f">{len(large)}Q", *large)
    idx += checksum
    idx += hashlib.sha1(idx).digest()
    return bytes(idx)


def _write_temporary(folder: Path, prefix: str, content: bytes) -> str:
    """`content` in a new file of `folder`, fsync'd and read-only (as git leaves packs)."""
    fd, path = tempfile.mkstemp(prefix=prefix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(path, 0o444)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return path


def install(repo: pygit2.Repository, objects: Objects) -> Path | None:
    """Write `objects` as one pack of `repo` (None if there are none) and make the
    repository see it. Returns the pack's path; nothing names its objects yet."""
    if not objects:
        return None
    pack, idx, checksum = pack_and_index(objects)
    folder = Path(repo.path) / "objects" / "pack"
    folder.mkdir(parents=True, exist_ok=True)
    name = folder / f"pack-{checksum.hex()}"
    tmp_pack = _write_temporary(folder, "tmp_pack_", pack)
    try:
        tmp_idx = _write_temporary(folder, "tmp_idx_", idx)
    except BaseException:
        os.unlink(tmp_pack)
        raise
    os.replace(tmp_pack, name.with_suffix(".pack"))
    os.replace(tmp_idx, name.with_suffix(".idx"))  # last: the pack is found by its index
    for backend in repo.odb.backends:
        backend.refresh()
    return name.with_suffix(".pack")

