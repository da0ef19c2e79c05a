"""Approval files: a commit to `approvals/<job>` approves (or rejects) its pending run.

Approving is a commit, so who approved what, and when, is in `git log`. The file holds a
decision word and an optional reason (`approve`, `reject: tests are red`), or a YAML
mapping `{decision: approve, reason: ...}`; an empty file approves.

A commit's author field proves nothing (anyone sets GIT_AUTHOR_EMAIL). A decision counts
for the `Identity` the edges authenticated for its commit: the token that pushed it over
HTTP (with the approve scope), the key that signed it (HOME/allowed_signers), or the
local user whose `gitline approve` request the controller turned into it. A commit with
none is refused, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from controller.core import model, triggers

APPROVAL_DIR = "approvals"
_SUFFIXES = (".yml", ".yaml", ".txt")
_WORDS = {"approve": "approve", "approved": "approve", "yes": "approve", "lgtm": "approve",
          "reject": "reject", "rejected": "reject", "no": "reject", "deny": "reject"}

Decision = Literal["approve", "reject"]


@dataclass(frozen=True)
class Identity:
    """Who authenticated an approval commit; `name` is a token, unix user or signer name."""

    name: str
    email: str = ""
    via: str = ""  # "token", "local user", "ssh signature", "gpg signature"
    # When the decision was made, as far as proven (push time, signed committer time);
    # an approval older than the run it would decide is a replay (0: unknown).
    made_at: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        who = f"{self.name} <{self.email}>" if self.email and self.email != self.name \
            else self.name
        return f"{who} ({self.via})" if self.via else who


@dataclass(frozen=True)
class ApprovalRequest:
    job: str
    commit: str
    author: str  # the commit's author field, for messages only
    path: str
    decision: Decision = "approve"
    reason: str = ""
    error: str = ""
    identity: Identity | None = None  # None: not authenticated, see `unauthenticated`
    unauthenticated: str = ""

    @property
    def by(self) -> str:
        return str(self.identity) if self.identity else f"{self.author} (unauthenticated)"


def approval_job(path: str) -> str | None:
    """`approvals/deploy_prod` -> `deploy_prod`; None for any other path."""
    return triggers.job_file(path, APPROVAL_DIR, _SUFFIXES)


def parse_decision(data: bytes) -> tuple[Decision, str, str]:
    """(decision, reason, error) from an approval file's content."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "approve", "", "approval file is not UTF-8 text"
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return "approve", "", ""
    try:
        loaded = YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        loaded = None
    if isinstance(loaded, dict) and "decision" in loaded:
        word = str(loaded.get("decision", "approve")).strip().lower()
        reason = str(loaded.get("reason") or "")
    else:
        word, _, rest = lines[0].replace(":", " ", 1).partition(" ")
        word = word.lower()
        reason = " ".join([rest.strip(), *lines[1:]]).strip()
    if word not in _WORDS:
        return "approve", "", f"unknown decision {word!r}: write approve or reject"
    return _WORDS[word], reason, ""  # type: ignore[return-value]


def decision_text(decision: str, reason: str, who: object) -> bytes:
    """approvals/<job>'s content for a decision made through Gitline (`gitline approve`
    or the API): the same file whoever asks."""
    word = "reject" if decision == "reject" else "approve"
    reason = reason.replace("\n", " ").strip()
    return f"{word}{': ' + reason if reason else ''}\n# gitline approve by {who}\n".encode()


REPLAY_SLACK = 300.0  # seconds of clock difference between a signer and the controller


def why_refused(approval: model.Approval, request: ApprovalRequest,
                queued_at: float = 0.0) -> str:
    """"" if the request's authenticated identity may decide, else why not (recorded).

    `queued_at` (epoch seconds) is when the pending run was queued: a decision proven
    older than that was made for another run (an old approval pushed again) and is refused.
    """
    who = request.identity
    if who is not None and who.made_at and queued_at and \
            who.made_at + REPLAY_SLACK < queued_at:
        return (f"the approval by {who} was made before this run was queued: a decision "
                "counts only for a run that was pending when it was made")
    if who is None:
        return (f"not authenticated: the commit's author {request.author} proves nothing; "
                + (request.unauthenticated or "push it with a token that has the approve "
                   "scope, sign it with a key in allowed_signers, or run `gitline approve`"))
    if approval.allows(f"{who.name} <{who.email}>"):
        return ""
    return f"{who} is not an approver (approvers: {', '.join(approval.approvers)})"
