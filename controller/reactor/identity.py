"""Who made an approval commit, as far as the controller can prove it.

Three proofs, tried in this order; the first that names someone wins:
  1. a signature git verifies (`git verify-commit`): SSH keys listed in
     HOME/allowed_signers (git's gpg.ssh.allowedSignersFile format; the principal is
     the approver's email), or GPG keys in the keyring HOME/gnupg;
  2. the token that pushed it over HTTP (HOME/pushes.jsonl, written by the git server),
     which must have the approve scope; its bound email is the approver's;
  3. the controller's own record that it made the commit for a `gitline approve`
     request, attributed by the request file's owner (uid -> unix user -> local_users).
Everything a pusher controls (author, committer, message, file content) is ignored.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Mapping
from pathlib import Path

from controller.core.approvals import Identity
from controller.store.pushlog import Pusher, PushLog

ALLOWED_SIGNERS = "allowed_signers"
GNUPG_DIR = "gnupg"


class Identifier:
    def __init__(self, home: Path, repo_path: Path, pushes: PushLog,
                 local_users: Mapping[str, str] | None = None) -> None:
        self.home = Path(home)
        self.repo = Path(repo_path)
        self.pushes = pushes
        self.local_users = dict(local_users or {})

    def identify(self, sha: str) -> tuple[Identity | None, str]:
        """(identity, "") or (None, why no proof holds)."""
        signed, why_not_signed = self.signature(sha)
        if signed is not None:
            return signed, ""
        entry = self.pushes.entry(sha)
        if entry is not None and entry.via == "local user":
            return Identity(entry.name, entry.email, "local user", entry.at), ""
        if entry is not None and entry.via == "token":
            if "approve" in entry.scopes or "admin" in entry.scopes:
                return Identity(entry.name, entry.email, "token", entry.at), ""
            pushed = f"pushed by token {entry.name}, which lacks the approve scope"
        else:
            pushed = "not pushed over HTTP with a token"
        return None, f"{pushed}; {why_not_signed}; not made by `gitline approve`"

    def signature(self, sha: str) -> tuple[Identity | None, str]:
        signers = self.home / ALLOWED_SIGNERS
        env = {**os.environ, "GNUPGHOME": str(self.home / GNUPG_DIR),  # never ~/.gnupg
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}
        base = ["git", "--git-dir", str(self.repo), "-c", "gpg.format=ssh",
                "-c", f"gpg.ssh.allowedSignersFile={signers}"]
        try:
            show = subprocess.run([*base, "show", "-s", "--format=%G?%x1f%ct%x1f%GS", sha, "--"],
                                  capture_output=True, text=True, timeout=30, env=env)
            result, _, rest = show.stdout.strip().partition("\x1f")
            when, _, signer = rest.partition("\x1f")
            if result == "N" or show.returncode != 0:
                return None, "not signed"
            verify = subprocess.run([*base, "verify-commit", sha], capture_output=True,
                                    text=True, timeout=30, env=env)
        except (OSError, subprocess.TimeoutExpired) as err:
            return None, f"its signature could not be checked ({err})"
        ssh = "ssh" in verify.stderr.lower() or (bool(signer) and "<" not in signer)
        if verify.returncode == 0 and result == "G" and signer:
            if ssh:
                return Identity(signer, signer if "@" in signer else "", "ssh signature",
                                float(when or 0)), ""
            name, _, email = signer.partition(" <")
            return Identity(email.rstrip(">") or name, email.rstrip(">"), "gpg signature",
                            float(when or 0)), ""
        if ssh and not signers.is_file():
            return None, f"signed, but there is no {signers} to check SSH signatures against"
        where = signers if ssh else self.home / GNUPG_DIR
        return None, f"signed by a key not listed in {where} (or the signature is bad)"

    def local_user(self, uid: int | None) -> tuple[Identity | None, str]:
        """The identity of a `gitline approve` request owned by `uid`."""
        if uid is None:
            return None, "the request file is not a plain file of its own (a link?)"
        try:
            user = pwd.getpwuid(uid).pw_name
        except KeyError:
            return None, f"uid {uid} has no user name"
        return Identity(user, self.local_users.get(user, ""), "local user"), ""

    def vouch(self, sha: str, who: Identity) -> None:
        """Record that the controller made `sha` for `who` (a `gitline approve`)."""
        self.pushes.record(Pusher(who.name, "local user", who.email), [sha])
