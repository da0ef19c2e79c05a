"""Request bodies are bounded before they are read, against a real `gitline serve`.

Before: `Content-Length: -1` on /hooks/<res> read 200 MB before the key was checked, and a
291 KB gzip fetch request of repeated `want` lines cost 130 s of CPU and 190 MB, anonymously
where anonymous_read is on.
"""

from __future__ import annotations

import gzip
import json
import socket
import time

from tests.harness.http import raw, request, serve, status_of, token

HOOK_LINE = """\
resources:
  - name: release_hook
    type: webhook
    integration: release_hook_key
"""


def _with_hook(home) -> None:
    secrets = home.path / "secrets.yml"
    secrets.write_text("release_hook_key: s3cret-hook-key\n")
    secrets.chmod(0o600)
    home.write("shippable.yml", HOOK_LINE)
    home.push("a webhook resource")


def _send_forever(port: int, head: bytes, seconds: float) -> tuple[int, int]:
    """Send `head`, then zeros until the server answers or closes; (status, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        deadline = time.monotonic() + seconds
        block = b"0" * 65536
        while time.monotonic() < deadline:
            try:
                answer = sock.recv(65536)
                return status_of(answer), sent
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return 0, sent
            try:
                sent += sock.send(block)
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                sock.setblocking(True)
                sock.settimeout(5)
                try:
                    return status_of(sock.recv(65536)), sent
                except OSError:
                    return 0, sent
    raise AssertionError(f"the server read {sent} bytes and still had not answered")


def test_negative_missing_and_huge_content_lengths_are_refused_before_the_body(home):
    _with_hook(home)
    port = serve(home)
    head = b"POST /hooks/release_hook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    status, sent = _send_forever(port, head + b"Content-Length: -1\r\n\r\n", 20)
    assert status == 400 and sent < 8 * 1024 * 1024
    status, sent = _send_forever(port, head + b"Content-Length: 200000000\r\n\r\n", 20)
    assert status == 413 and sent < 8 * 1024 * 1024
    # chunked: cut at max_payload (1 MB), not read to its (never coming) end
    status, sent = _send_forever(
        port, head + b"Transfer-Encoding: chunked\r\n\r\n10000000\r\n", 20)
    assert status == 413 and sent < 8 * 1024 * 1024
    # no Content-Length: no body; the key is checked and refused
    answer = raw(port, head + b"Connection: close\r\n\r\n")
    assert status_of(answer) == 401
    assert b"webhook key" in answer
    # and the hook still works for its sender
    status, _, body = request(port, "POST", "/hooks/release_hook", b'{"tag": "v1"}',
                              {"Authorization": "Bearer s3cret-hook-key",
                               "Content-Type": "application/json"})
    assert status == 202 and json.loads(body)["version"] == 1


def test_a_gzip_fetch_request_is_bounded_by_its_inflated_size(home):
    home.write("shippable.yml", "resources: []\n")
    sha = home.push("first")
    port = serve(home, anonymous_read="true")
    want = f"0032want {sha}\n".encode()
    first = f"want {sha} side-band-64k thin-pack ofs-delta\n".encode()
    first = b"%04x" % (len(first) + 4) + first
    body = gzip.compress(want * 4_000_000, compresslevel=9)  # ~200 MB inflated
    assert len(body) < 1024 * 1024
    start = time.monotonic()
    status, headers, answer = request(
        port, "POST", "/config.git/git-upload-pack", body,
        {"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip"},
        timeout=60)
    took = time.monotonic() - start
    assert status == 413, answer[:300]
    assert b"inflates past" in answer
    assert took < 10, f"refusing the gzip bomb took {took:.1f}s"
    # a small gzip fetch still works, anonymously
    small = gzip.compress(first + b"00000009done\n")
    status, _, answer = request(
        port, "POST", "/config.git/git-upload-pack", small,
        {"Content-Type": "application/x-git-upload-pack-request", "Content-Encoding": "gzip"})
    assert status == 200 and b"PACK" in answer


def test_an_unauthenticated_push_body_is_cut_short(home):
    tok = token(home)
    port = serve(home)
    head = (b"POST /config.git/git-receive-pack HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-git-receive-pack-request\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    status, sent = _send_forever(port, head, 20)
    assert status == 413 and sent < 8 * 1024 * 1024
    # a made-up token is no better: only credentials accepted before get the push limit
    made_up = head.replace(b"Host: 127.0.0.1\r\n",
                           b"Host: 127.0.0.1\r\nAuthorization: Bearer gl_made_up\r\n")
    status, sent = _send_forever(port, made_up, 20)
    assert status == 413 and sent < 8 * 1024 * 1024
    status, _, _ = request(port, "GET", "/api/status",
                           headers={"Authorization": f"Bearer {tok}"})
    assert status == 200
