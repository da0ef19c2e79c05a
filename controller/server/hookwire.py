"""The pre-receive hook's sh client on HOME/answers.sock: `git credential-cache` as a socket
client, so that a push by path starts no interpreter to be answered (bench section 1).

`git credential-cache --socket PATH get` sends `action=get\\ntimeout=N\\n`, then its stdin
as it is, shuts its side down, and copies whatever comes back to its stdout until the
controller closes; with no socket (or no one listening) it prints nothing and exits 0. Any
git built with unix sockets has it, and it starts in ~2 ms where `python -S -E` takes ~11.
The hook (store/repoinit.py) sends `KEY=VALUE` lines (`old`, `new`, `objects`, `source`)
and reads the answer's lines, then one last line: `gitline-answer: accept` or `... refuse`.
A reply without that line (nothing answered, a reply cut short) sends the hook to the
Python client (controller/answerclient.py), which asks again or plans by itself.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from controller.answerclient import ACCEPTED, REFUSED, WAIT
from controller.server.sparethreads import SpareThreads

FIRST_LINE = b"action=get\n"  # what git's client sends first, never a JSON request
KEYS = ("old", "new", "objects", "source")
_WORK = SpareThreads("gitline-answer-work")  # an answer past its time goes on there


def is_git_client(first: bytes) -> bool:
    """Whether a connection's first bytes come from `git credential-cache`."""
    return first.startswith(FIRST_LINE)


def read_request(sock: socket.socket, first: bytes, limit: int) -> dict[str, Any]:
    """The rest of git's request (it shuts its side down when sent) as the JSON client's
    request: old, new, objects (None when the hook had none), source when given."""
    data = first
    while chunk := sock.recv(65536):
        data += chunk
        if len(data) > limit:
            raise ValueError(f"request longer than {limit} bytes")
    fields: dict[str, str] = {}
    for line in data.decode("utf-8").splitlines()[2:]:  # after action= and timeout=
        key, sep, value = line.partition("=")
        if not sep or key not in KEYS or key in fields:
            raise ValueError(f"unexpected request line {line!r}")
        fields[key] = value
    if not fields.get("new"):
        raise ValueError("the request names no new commit")
    request: dict[str, Any] = {"old": fields.get("old", ""), "new": fields["new"],
                               "objects": fields.get("objects") or None}
    if fields.get("source"):
        request["source"] = fields["source"]
    return request


def answer_within(answer: Callable[[dict[str, Any]], dict[str, Any]],
                  request: dict[str, Any], seconds: float = WAIT) -> dict[str, Any]:
    """`answer(request)`, or a "did not answer" reply after `seconds`: git's client has no
    timeout of its own, and the Python client accepted the push after WAIT seconds."""
    future = _WORK.submit(answer, request)
    try:
        return future.result(timeout=seconds)
    except TimeoutError:
        if future.done():  # the answer's own TimeoutError
            raise
        return {"late": f"timed out after {seconds:.0f} s"}


def reply_text(reply: dict[str, Any]) -> bytes:
    """The lines the hook prints, then its verdict; the Python client's messages alike."""
    if "late" in reply:
        lines = [f"gitline: the controller did not answer ({reply['late']}); "
                 "the push is accepted"]
    elif "error" in reply:
        lines = [f"gitline: no plan for this push ({reply['error']}); it is accepted"]
    else:
        lines = [str(line) for line in reply.get("lines", [])]
    verdict = REFUSED if reply.get("refuse") and "error" not in reply else ACCEPTED
    return "".join(f"{line}\n" for line in [*lines, verdict]).encode("utf-8")
