"""bigfiles: what a task message leaves out, what the controller offers, what a worker
accepts (against a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.core.runspec import InputSpec, OutputSpec
from controller.execution import bigfiles, codec
from tests.harness.runspecs import make_spec

BIG = b"x" * (bigfiles.BOUND + 1)


def spec_with(files: dict[str, bytes], **kw):
    return make_spec("true", inputs=(InputSpec("none", "resource", "params", None),
                                     InputSpec("repo", "resource", "gitRepo", None,
                                               files=files)), **kw)


def test_blob_oid_is_gits(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"hello\n\0binary")
    git = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert bigfiles.blob_oid(b"hello\n\0binary") == git


def test_only_files_over_the_bound_leave_the_message_and_fill_puts_them_back() -> None:
    spec = spec_with({"big.bin": BIG, "small.txt": b"s" * bigfiles.BOUND})
    light, refs, blobs = bigfiles.offload(spec)
    assert refs == [bigfiles.Ref("inputs", 1, "big.bin", bigfiles.blob_oid(BIG), len(BIG))]
    assert light.inputs[1].files == {"big.bin": b"", "small.txt": b"s" * bigfiles.BOUND}
    assert len(codec.spec_to_json(light)) < 2 * bigfiles.BOUND < len(codec.spec_to_json(spec))
    assert bigfiles.fill(light, refs, blobs) == spec
    assert [bigfiles.Ref.from_json(r.to_json()) for r in refs] == refs
    same = spec_with({"small.txt": b"s"})
    assert bigfiles.offload(same) == (same, [], {})


def test_the_previous_job_state_and_outputs_state_files_are_offloaded_too() -> None:
    other = BIG + b"y"
    spec = spec_with({}, previous_state={"s/db": BIG, "s/tiny": b"t"},
                     outputs=(OutputSpec("cache", "state", None, files={"c.tar": other}),))
    light, refs, blobs = bigfiles.offload(spec)
    assert [(r.part, r.index, r.path) for r in refs] == [("outputs", 0, "c.tar"),
                                                         ("previous", 0, "s/db")]
    assert light.previous_state == {"s/db": b"", "s/tiny": b"t"}
    assert light.outputs[0].files == {"c.tar": b""}
    assert bigfiles.fill(light, refs, blobs) == spec


@pytest.mark.parametrize("bad", [["inputs", 1, "p", "../../etc/passwd", 3],
                                 ["inputs", 1, "p", "A" * 40, 3], ["inputs", 1, "p"],
                                 ["secrets", 0, "p", "a" * 40, 3]])
def test_a_reference_that_is_not_a_blob_id_is_refused(bad: list[Any]) -> None:
    with pytest.raises((bigfiles.FetchError, ValueError)):
        bigfiles.Ref.from_json(bad)


def test_offers_last_while_a_run_refers_to_them() -> None:
    offers = bigfiles.Offers()
    offers.offer("t1", {"a" * 40: b"one"})
    offers.offer("t2", {"a" * 40: b"one"})
    offers.withdraw("t1")
    assert offers.get("a" * 40) == b"one"  # t2 still runs
    offers.withdraw("t2")
    assert offers.get("a" * 40) is None


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    """Answers every GET with `state["body"]`; remembers the Authorization header."""
    state: dict[str, Any] = {"body": b"", "auth": ""}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state["auth"] = self.headers.get("Authorization", "")
            self.send_response(200)
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


def test_fetch_takes_only_the_announced_bytes_of_the_announced_blob(server) -> None:
    data = b"the real content\n"
    ref = bigfiles.Ref("inputs", 0, "f", bigfiles.blob_oid(data), len(data))
    server["body"] = data
    assert bigfiles.fetch(server["url"], "gl_tok", ref) == data
    assert server["auth"] == "Bearer gl_tok"
    for wrong in (b"the fake content\n", data + b"and then some more", data[:-1]):
        server["body"] = wrong
        with pytest.raises(bigfiles.FetchError, match="is not the 17 bytes"):
            bigfiles.fetch(server["url"], "gl_tok", ref)
