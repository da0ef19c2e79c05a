"""The pre-receive hook's Python client: ask the running controller for the push's answer.

The hook asks first through `git credential-cache` (no interpreter to start:
server/hookwire.py); this client asks when that gave no verdict, and says when no
controller answered. `gitline status` asks the controller through `ask`.

Run as a script by path with `python -S -E` (no site-packages, no Gitline import: it
starts in a few milliseconds): `answerclient.py OLD NEW`, in the repository (git runs
hooks there). Prints the answer's lines; exits 0 (accept), 3 (refuse) or 4 when no
controller answers, and the hook then runs `python -m controller.pushanswer` itself.
Standard library only; keep it so. The hook's path imports only C modules (`_socket`,
`_json`): `json` and `socket` doubled the client's start (re, enum, selectors), and the
client runs inside every push by path (bench section 1).
"""

from __future__ import annotations

import _json
import _socket
import os
import sys

REFUSE = 3  # store/repoinit.REFUSE
UNANSWERED = 4  # store/repoinit.UNANSWERED
WAIT = 60.0  # seconds for the answer (a big workflow parses in about one)
# The hook's first client, `git credential-cache` (server/hookwire.py), prints the answer's
# lines and then one of these as the last: the sh hook reads its verdict there.
VERDICT = "gitline-answer: "
ACCEPTED = VERDICT + "accept"
REFUSED = VERDICT + "refuse"


class _Decoding:
    """What `_json.make_scanner` reads from json.JSONDecoder: plain JSON, nothing hooked."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo: dict[str, object] = {}


def loads(data: bytes) -> object:
    """One JSON document (json.loads, through the C scanner alone); ValueError if not."""
    text = data.decode("utf-8").strip()
    try:
        value, end = _json.make_scanner(_Decoding())(text, 0)  # type: ignore[arg-type]
    except StopIteration as err:
        raise ValueError(f"not JSON at {err.value}") from None
    if end != len(text):
        raise ValueError(f"extra data at {end}")
    return value


def dumps(request: dict[str, str | None]) -> bytes:
    """A flat object of strings (or null) as one JSON line."""
    fields = (f"{_json.encode_basestring_ascii(k)}: "
              f"{'null' if v is None else _json.encode_basestring_ascii(v)}"
              for k, v in request.items())
    return ("{" + ", ".join(fields) + "}\n").encode()


def read_line(sock: _socket.socket, limit: int = 0) -> bytes:
    """Bytes up to a newline or the end (ValueError past `limit` bytes, when given);
    the answer socket of the controller reads its requests with it too."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if limit and len(data) > limit:
            raise ValueError(f"request longer than {limit} bytes")
    return data


def ask(home: str, request: dict[str, object], timeout: float = 3.0
        ) -> dict[str, object] | None:
    """One request to the running controller of `home` through HOME/answers.sock (`gitline
    status` asks for the status it holds); None when no controller answers."""
    import json
    import socket

    folder = -1
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:  # through the folder's fd: a socket address holds 107 bytes, HOME may be deeper
        folder = os.open(home, os.O_RDONLY | os.O_DIRECTORY)
        sock.connect(f"/proc/self/fd/{folder}/answers.sock")
        sock.sendall(json.dumps(request).encode() + b"\n")
        reply = json.loads(read_line(sock))
    except (OSError, ValueError):
        return None
    finally:
        sock.close()
        if folder >= 0:
            os.close(folder)
    return reply if isinstance(reply, dict) and "error" not in reply else None


def main(old: str, new: str, source: str = "") -> int:
    """`source`: the push is to HOME/repos/SOURCE.git, a source of the subscription."""
    objects = os.environ.get("GIT_QUARANTINE_PATH") or os.environ.get("GIT_OBJECT_DIRECTORY")
    home = os.path.join(os.environ.get("GIT_DIR", "."), "..", "..") if source else \
        os.path.join(os.environ.get("GIT_DIR", "."), "..")
    if objects:
        objects = os.path.abspath(objects)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    try:
        os.chdir(home)  # a short socket address, however deep HOME is
        sock.connect("answers.sock")
    except OSError:
        return UNANSWERED
    try:
        sock.sendall(dumps({"old": old, "new": new, "objects": objects,
                            **({"source": source} if source else {})}))
        reply = loads(read_line(sock))
        if not isinstance(reply, dict):
            raise ValueError("the answer is not an object")
    except (OSError, ValueError) as err:
        print(f"gitline: the controller did not answer ({err}); the push is accepted")
        return 0
    finally:
        sock.close()
    if "error" in reply:
        print(f"gitline: no plan for this push ({reply['error']}); it is accepted")
        return 0
    sys.stdout.write("".join(f"{line}\n" for line in reply.get("lines", [])))
    return REFUSE if reply.get("refuse") else 0


if __name__ == "__main__":
    code = main(*sys.argv[1:4])
    sys.stdout.flush()
    os._exit(code)  # the push waits on this process: no interpreter teardown
