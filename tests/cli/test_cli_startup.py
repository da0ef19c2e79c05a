"""One-shot commands stay quick: they read through `git cat-file`, never importing pygit2,
dulwich or the controller's wiring (scheduler, HTTP server, executors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.commands import GIT_ENV

ROOT = str(Path(__file__).resolve().parents[2])
HEAVY = ("pygit2", "dulwich", "controller.app", "apscheduler", "waitress")
PROBE = f"""
import json, sys
HEAVY = {HEAVY!r}
from controller.cli import main
try:
    main(sys.argv[1:], prog_name="gitline")
except SystemExit as end:
    code = end.code
print(json.dumps(dict(code=code, heavy=[m for m in HEAVY if m in sys.modules])),
      file=sys.stderr)
"""


@pytest.mark.parametrize("args", [
    ["status"], ["status", "--json"], ["log", "app_build"], ["logs", "build_app"],
    ["trigger", "deploy_prod"], ["cancel", "deply_prod"],
])
def test_read_and_request_commands_import_nothing_heavy(sample_home, args):
    done = subprocess.run([sys.executable, "-c", PROBE, *args, "--home", str(sample_home.path)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, **GIT_ENV, "PYTHONPATH": ROOT})
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["heavy"] == [], (args, done.stderr)
    assert report["code"] in (0, 1, 2, None), done.stderr
