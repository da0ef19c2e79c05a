"""A real `gitline serve --listen 127.0.0.1:PORT` for the HTTP attack tests, and raw HTTP.

The `home` fixture is in conftest.py (e2e's: a fresh HOME and a clone of its config.git).
"""

from __future__ import annotations

import http.client
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2ekit import Home, gitline, run  # noqa: E402
from kit import PAINT_LINE, free_port, wait_for  # noqa: E402

__all__ = ["PAINT_LINE", "gitline", "run", "wait_for"]


def token(home: Home, name: str = "alice") -> str:
    return gitline("token", "add", home.path, name).stdout.strip()


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
            return True
        except OSError:
            return False
        return True

    wait_for(up, 30, "the HTTP listener")
    return port


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
