"""The pre-receive hook's fast half: ask the running controller for the push's answer.

Run as a script by path with `python -S -E` (no site-packages, no Gitline import: it
starts in a few milliseconds): `answerclient.py OLD NEW`, in the repository (git runs
hooks there). Prints the answer's lines; exits 0 (accept), 3 (refuse) or 4 when no
controller answers, and the hook then runs `python -m controller.pushanswer` itself.
Standard library only; keep it so.
"""

import json
import os
import socket
import sys

REFUSE = 3  # store/repoinit.REFUSE
UNANSWERED = 4  # store/repoinit.UNANSWERED
WAIT = 60.0  # seconds for the answer (a big workflow parses in about one)


def read_line(sock: socket.socket, limit: int = 0) -> bytes:
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


def main(old: str, new: str) -> int:
    objects = os.environ.get("GIT_QUARANTINE_PATH") or os.environ.get("GIT_OBJECT_DIRECTORY")
    home = os.path.join(os.environ.get("GIT_DIR", "."), "..")
    if objects:
        objects = os.path.abspath(objects)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    try:
        os.chdir(home)  # a short socket address, however deep HOME is
        sock.connect("answers.sock")
    except OSError:
        return UNANSWERED
    try:
        sock.sendall(json.dumps({"old": old, "new": new, "objects": objects}).encode() + b"\n")
        reply = json.loads(read_line(sock))
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
    sys.exit(main(sys.argv[1], sys.argv[2]))
