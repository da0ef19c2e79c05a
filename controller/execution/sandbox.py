"""The sandbox every job step runs in: bubblewrap (`bwrap`), or none when set so.

A step sees the system read-only (/usr, /bin, /lib*, /sbin, /etc, /opt, this Python and
the controller package, which `shipctl` runs from), its own workdir read-write, the
`sandbox_bind` paths read-write, a private /tmp, /dev and /proc, and the network. It does
not see the Gitline HOME (config.git, secrets.yml, tokens.yml, gitline.yml, requests/,
other runs' workdirs) nor the controller's processes (own pid namespace). Under root,
the step runs as uid/gid 65534 inside a user namespace (see docs/security.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KINDS = ("bwrap", "none")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
NOBODY = 65534
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class SandboxError(Exception):
    """The sandbox asked for cannot run here."""


@dataclass(frozen=True)
class Sandbox:
    kind: str = "bwrap"  # bwrap | none
    bwrap: str = "bwrap"  # the program (found on PATH unless a path)
    binds: tuple[str, ...] = ()  # extra paths jobs may write (sandbox_bind)
    hide: tuple[str, ...] = ()  # paths never visible, even under a bound dir (the HOME)

    @property
    def active(self) -> bool:
        return self.kind == "bwrap"

    def describe(self) -> str:
        if not self.active:
            return "none (jobs run as the controller's user and see its files)"
        extra = f", writable: {', '.join(self.binds)}" if self.binds else ""
        return f"bwrap ({self.bwrap}; jobs see their workdir and the system read-only{extra})"

    def wrap(self, argv: list[str], workdir: Path) -> list[str]:
        """`argv` as run inside the sandbox with `workdir` writable (unchanged for none)."""
        if not self.active:
            return argv
        return [self.bwrap, *self.options(workdir), "--", *argv]

    def options(self, workdir: Path) -> list[str]:
        # /tmp first: the read-only binds below may lie under it (a project or a Python
        # installed in /tmp) and must stay visible on top of the private /tmp
        opts: list[str] = ["--tmpfs", "/tmp", "--dev", "/dev", "--proc", "/proc"]
        ro = readonly_dirs()
        for path in ro:
            opts += ["--ro-bind", path, path]
        for path in SYSTEM_DIRS:  # /bin -> usr/bin and the like, as on the host
            if os.path.islink(path):
                opts += ["--symlink", os.readlink(path), path]
        resolv = Path("/etc/resolv.conf")
        if resolv.is_symlink() and resolv.resolve().exists():  # DNS lives in /run on some hosts
            target = str(resolv.resolve())
            opts += ["--ro-bind", target, target]
        for hidden in self.hide:  # a HOME inside a bound dir is covered by an empty tmpfs
            if any(_under(hidden, p) for p in ro):
                opts += ["--tmpfs", hidden]
        for path in self.binds:
            opts += ["--bind", path, path]
        # the sandbox's own root (where bwrap made the mount points) is read-only too
        opts += ["--bind", str(workdir), str(workdir), "--remount-ro", "/",
                 "--chdir", str(workdir),
                 "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"]
        if os.geteuid() == 0:
            opts += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
        return opts


def readonly_dirs() -> list[str]:
    """System dirs that exist, this Python's installation and the controller package."""
    found: list[str] = []
    candidates = [*SYSTEM_DIRS, sys.prefix, sys.base_prefix, sys.exec_prefix, _PACKAGE_ROOT]
    for path in candidates:
        real = os.path.realpath(path)
        if os.path.isdir(real) and not any(_under(real, p) for p in found):
            found = [p for p in found if not _under(p, real)] + [real]
    return found


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
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    try:
        done = subprocess.run(box.wrap(["/bin/sh", "-c", "true"], probe), capture_output=True,
                              timeout=30, stdin=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"sandbox: bwrap does not run here: {exc}") from exc
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = why[-1] if why else f"exit code {done.returncode}"
        raise SandboxError(f"sandbox: bwrap does not work here: {reason} "
                           "(or write `sandbox: none` in gitline.yml)")
    return box


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
