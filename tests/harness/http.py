"""A HOME served over HTTP (`gitline serve --listen 127.0.0.1:PORT`), tokens, requests.

`serve` answers the port, `serve_base` the base URL; both wait until the listener answers.
`raw` sends bytes as they are, for what a well-behaved client would never send.
"""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request

from tests.harness.commands import gitline
from tests.harness.home import Home
from tests.harness.wait import free_port, wait_for


def token(home: Home, name: str = "alice", *args: str) -> str:
    """`gitline token add HOME NAME ARGS`: the new token."""
    return gitline("token", "add", home.path, name, *args).stdout.strip()


def serve(home: Home, *extra: str, **settings: object) -> int:
    """Start the controller on a free loopback port with `settings` in gitline.yml."""
    with (home.path / "gitline.yml").open("a") as f:
        f.writelines(f"{k}: {v}\n" for k, v in settings.items())
    port = free_port()
    home.start("--listen", f"127.0.0.1:{port}", *extra)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5)
        except urllib.error.HTTPError:
            return True  # 401 without a token: it answers
        except OSError:
            return False
        return True

    wait_for(up, 30, "the HTTP listener")
    return port


def serve_base(home: Home, *extra: str, **settings: object) -> str:
    """`serve`, answering the base URL (http://127.0.0.1:PORT)."""
    return f"http://127.0.0.1:{serve(home, *extra, **settings)}"


def url(base: str, user: str, tok: str) -> str:
    """The clone URL of the served config.git, with a user and token in it."""
    return base.replace("http://", f"http://{user}:{tok}@") + "/config.git"


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None,
            timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 20.0) -> bytes:
    """Send `data` as it is on a new connection; everything the server answers until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered (413) and closed before the body was all sent
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer (0 if there was none)."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0
