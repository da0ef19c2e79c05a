"""The sandbox every job step runs in: bubblewrap (`bwrap`), or none when set so.

A step sees the system read-only (/usr, /bin, /lib*, /sbin, /etc, /opt, this Python and
the controller package, which `shipctl` runs from), its own workdir read-write, the
`sandbox_bind` paths read-write, a private /tmp, /dev and /proc, and the network. It does
not see the Gitline HOME (config.git, secrets.yml, tokens.yml, gitline.yml, requests/,
other runs' workdirs) nor the controller's processes (own pid namespace).

Under root, bwrap runs privileged (no user namespace) and the step drops to uid/gid 65534
(`nobody`) with `setpriv`, all capabilities gone: a job then reads only what any user
may read (not /etc/shadow) and writes only its workdir, which is handed over to that
uid before each step (`Sandbox.hand_over`). Where privileged bwrap does not work, the
step runs as 65534 inside a user namespace, which the host still sees as uid 0 for the
files that are mounted; `describe()` says so (see docs/security.md).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

KINDS = ("bwrap", "none")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
NOBODY = 65534
# the `controller` package itself, not the folder it lies in: that folder (a checkout)
# may be 0700 and root's, which a job dropped to uid 65534 could not pass through; the
# folders leading to a bound path are made 0755 inside the sandbox (Sandbox._parents)
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


class SandboxError(Exception):
    """The sandbox asked for cannot run here."""


@dataclass(frozen=True)
class Sandbox:
    kind: str = "bwrap"  # bwrap | none
    bwrap: str = "bwrap"  # the program (found on PATH unless a path)
    binds: tuple[str, ...] = ()  # extra paths jobs may write (sandbox_bind)
    hide: tuple[str, ...] = ()  # paths never visible, even under a bound dir (the HOME)
    # the uid/gid steps drop to inside a privileged bwrap (the controller is root), and
    # the setpriv that drops it; None: no drop (an unprivileged controller, or the
    # user-namespace fallback when the controller is root)
    user: int | None = None
    setpriv: str = "setpriv"

    @property
    def active(self) -> bool:
        return self.kind == "bwrap"

    def describe(self) -> str:
        if not self.active:
            return "none (jobs run as the controller's user and see its files)"
        extra = f", writable: {', '.join(self.binds)}" if self.binds else ""
        return (f"bwrap ({self.bwrap}; jobs see their workdir and the system read-only"
                f"{extra}{self._who()})")

    def _who(self) -> str:
        if self.user is not None:
            return f"; jobs run as uid {self.user}"
        if _is_root():
            return (f"; jobs run as uid {NOBODY} in a user namespace, which the host sees as "
                    "root for mounted files: privileged bwrap does not work here")
        return ""

    def wrap(self, argv: list[str], workdir: Path) -> list[str]:
        """`argv` as run inside the sandbox with `workdir` writable (unchanged for none)."""
        if not self.active:
            return argv
        if self.user is not None:
            argv = [self.setpriv, f"--reuid={self.user}", f"--regid={self.user}",
                    "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                    "--no-new-privs", "--", *argv]
        return [self.bwrap, *self.options(workdir), "--", *argv]

    def hand_over(self, workdir: Path) -> None:
        """Give `workdir` and everything in it to the job's uid (when steps drop to one).

        Called on a run's own workdir before each of its steps (the controller writes
        into it between steps), never on anything else: it changes owners. Links are
        changed, never followed; no job process is alive while it walks.
        """
        if self.user is None or not self.active:
            return
        root = Path(workdir)
        if root.is_symlink() or not root.is_dir() or len(root.resolve().parts) < 3:
            raise SandboxError(f"refusing to hand over {str(workdir)!r}: not a run folder")
        _chown_tree(str(root), self.user)

    def options(self, workdir: Path) -> list[str]:
        # /tmp first: the read-only binds below may lie under it (a project or a Python
        # installed in /tmp) and must stay visible on top of the private /tmp
        opts: list[str] = ["--perms", "1777"] if self.user is not None else []
        opts += ["--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
        ro = readonly_dirs()
        resolv = Path("/etc/resolv.conf")
        extra_ro: list[str] = []
        if resolv.is_symlink() and resolv.resolve().exists():  # DNS lives in /run on some hosts
            extra_ro.append(str(resolv.resolve()))
        # a HOME inside a bound dir is covered by an empty tmpfs
        hidden = tuple(h for h in self.hide if any(_under(h, p) for p in ro))
        targets = [*ro, *extra_ro, *self.binds, str(workdir)]
        opts += self._parents(targets, ro, hidden, in_hidden=False)
        for path in ro:
            opts += ["--ro-bind", path, path]
        for target, path in _system_links():  # /bin -> usr/bin and the like, as on the host
            opts += ["--symlink", target, path]
        for path in extra_ro:
            opts += ["--ro-bind", path, path]
        for path in hidden:
            opts += ["--tmpfs", path]
        opts += self._parents(targets, ro, hidden, in_hidden=True)
        for path in self.binds:
            opts += ["--bind", path, path]
        # the sandbox's own root (where bwrap made the mount points) is read-only too
        opts += ["--bind", str(workdir), str(workdir), "--remount-ro", "/",
                 "--chdir", str(workdir),
                 "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
        if self.user is not None:  # privileged: setpriv needs these two to drop, then none
            opts += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        elif _is_root():
            opts += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        return opts

    def _parents(self, targets: list[str], ro: tuple[str, ...], hidden: tuple[str, ...],
                 in_hidden: bool) -> list[str]:
        """Mode-0755 dirs on the way to each mount point, for a job that dropped its uid.

        bwrap makes missing parents 0700 and root's, which uid 65534 could not pass
        through; the parents inside a read-only bind are the host's own and stay as
        they are; those inside a hidden (tmpfs) HOME come after that tmpfs.
        """
        if self.user is None:
            return []
        wanted: set[str] = set()
        for target in targets:
            wanted.update(_parents_to(target, ro, hidden, in_hidden))
        opts: list[str] = []
        for path in sorted(wanted, key=lambda p: (p.count("/"), p)):
            opts += ["--perms", "0755", "--dir", path]
        return opts


# Every step asks for the same mounts but its own folder's (py-spy: ~15% of a local run's
# time holding the interpreter went to working them out again, a realpath, a stat or a
# readlink per folder): what depends on the host only is kept for the process's life.

@functools.lru_cache(maxsize=256)
def _parents_to(target: str, ro: tuple[str, ...], hidden: tuple[str, ...],
                in_hidden: bool) -> frozenset[str]:
    """The folders on the way to `target` that Sandbox._parents makes 0755."""
    wanted: set[str] = set()
    for parent in Path(target).parents:
        path = str(parent)
        if path == "/":
            continue
        if any(_inside(path, h) for h in hidden):
            if in_hidden:
                wanted.add(path)
        elif not in_hidden and not any(_under(path, r) for r in ro) and path not in hidden:
            wanted.add(path)
    return frozenset(wanted)


@functools.cache
def _system_links() -> tuple[tuple[str, str], ...]:
    """(target, path) of each of SYSTEM_DIRS that is a link (/bin -> usr/bin)."""
    return tuple((os.readlink(path), path) for path in SYSTEM_DIRS if os.path.islink(path))


def _inside(path: str, root: str) -> bool:
    return path != root and _under(path, root)


def _is_root() -> bool:
    return os.geteuid() == 0


def _chown_tree(top: str, uid: int) -> None:
    """lchown `top` and all below it to uid:uid, skipping what is already theirs."""
    stack = [top]
    if os.lstat(top).st_uid != uid:
        os.lchown(top, uid, uid)
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if info.st_uid != uid or info.st_gid != uid:
                    os.lchown(entry.path, uid, uid)
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)


@functools.cache
def readonly_dirs() -> tuple[str, ...]:
    """System dirs that exist, this Python's installation and the controller package
    (the same while the process lives)."""
    found: list[str] = []
    candidates = [*SYSTEM_DIRS, sys.prefix, sys.base_prefix, sys.exec_prefix, _PACKAGE_DIR]
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.isdir(real) and not any(_under(real, p) for p in found):
            found = [p for p in found if not _under(p, real)] + [real]
    return tuple(found)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def find(kind: str, bwrap: str = "bwrap", binds: tuple[str, ...] = (),
         hide: tuple[str, ...] = ()) -> Sandbox:
    """The sandbox `kind` checked to work here; raises SandboxError with the reason."""
    if kind not in KINDS:
        raise SandboxError(f"setting sandbox: bwrap or none, not {kind!r}")
    if kind == "none":
        return Sandbox("none")
    program = shutil.which(bwrap) if "/" not in bwrap else bwrap
    if not program or not os.access(program, os.X_OK):
        raise SandboxError(f"sandbox: bwrap: {bwrap} not found (install the `bubblewrap` "
                           "package, or write `sandbox: none` in gitline.yml to run jobs "
                           "unsandboxed)")
    for path in binds:
        if not os.path.isabs(path) or not os.path.isdir(path):
            raise SandboxError(f"setting sandbox_bind: {path!r} is not an existing absolute "
                               "folder")
    box = Sandbox("bwrap", program, tuple(os.path.realpath(b) for b in binds),
                  tuple(os.path.realpath(h) for h in hide))
    if _is_root():
        setpriv = shutil.which("setpriv")
        dropping = replace(box, user=NOBODY, setpriv=setpriv or "setpriv")
        if setpriv and _probe(dropping) is None:
            return dropping
    reason = _probe(box)
    if reason is not None:
        raise SandboxError(f"sandbox: bwrap does not work here: {reason} "
                           "(or write `sandbox: none` in gitline.yml)")
    return box


def _probe(box: Sandbox) -> str | None:
    """Why `box` cannot run a step that writes its workdir as its uid; None when it can."""
    want = str(box.user) if box.user is not None else str(os.geteuid())
    with tempfile.TemporaryDirectory(prefix="gitline-sandbox-probe-") as tmp:
        workdir = Path(tmp)  # a folder of its own: hand_over changes owners
        box.hand_over(workdir)
        # each bound folder must be writable by the job's uid: that is what it is for
        script = ('id -u > probe; for d; do [ -w "$d" ] || printf "%s\\n" "$d" >> unwritable; '
                  "done")
        argv = box.wrap(["/bin/sh", "-c", script, "probe", *box.binds], workdir)
        try:
            done = subprocess.run(argv, capture_output=True, timeout=30, cwd=workdir,
                                  stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"it does not run: {exc}"
        if done.returncode != 0:
            why = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return why[-1] if why else f"exit code {done.returncode}"
        wrote = (workdir / "probe").read_text().strip() if (workdir / "probe").exists() else ""
        if box.user is not None and wrote != want:
            return f"a step ran as uid {wrote or '?'}, not {want}"
        if (workdir / "unwritable").exists():
            raise SandboxError(
                f"setting sandbox_bind: jobs run as uid {want} and cannot write "
                f"{(workdir / 'unwritable').read_text().splitlines()[0]} (chown {want} it, "
                "or make it group- or world-writable)")
    return None


_default: Sandbox | None = None


def default() -> Sandbox:
    """bwrap when it works here, else none: for callers that pass no sandbox (tests, tools).

    `gitline serve` and `gitline worker` never rely on this: they refuse to start without
    a working sandbox unless `none` is set explicitly.
    """
    global _default
    if _default is None:
        try:
            _default = find("bwrap")
        except SandboxError:
            _default = Sandbox("none")
    return _default
