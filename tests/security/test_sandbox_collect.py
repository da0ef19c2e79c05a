"""Issue #9: only regular files inside the run folder leave a job (also with sandbox: none,
where a job could hard-link a file of the controller's user into JOB_STATE)."""

from __future__ import annotations

import os
from pathlib import Path

from controller.execution import workspace


def test_collect_refuses_hard_links_out_and_symlinks_keeps_inner_hard_links(tmp_path: Path):
    secret = tmp_path / "secrets.yml"
    secret.write_text("deploy_token: s3cr3t\n")
    workdir = tmp_path / "work" / "job" / "1"
    state = workdir / "state"
    state.mkdir(parents=True)
    os.link(secret, state / "leak.yml")
    (state / "ok.txt").write_text("ok\n")
    os.link(state / "ok.txt", workdir / "copy-inside.txt")  # both links in the workdir
    (state / "passwd").symlink_to("/etc/passwd")
    (state / "inner").symlink_to(state / "ok.txt")
    notes: list[str] = []
    files = workspace.read_tree(state, workdir, notes)
    assert files == {"ok.txt": b"ok\n"}
    assert "refused leak.yml: it is a hard link to a file outside the workdir" in notes
    assert "refused passwd: it is a symlink (only regular files leave a job)" in notes
    assert "refused inner: it is a symlink (only regular files leave a job)" in notes
