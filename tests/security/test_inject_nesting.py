"""Deep YAML nesting never reaches a recursive composer: an error at its line, no crash.

50,000 levels of `- - - ... x` (100 KB) used to kill the process with SIGSEGV inside
libyaml: `gitline validate` exited 139 and `gitline serve` died on every start. The
running-controller side is in tests/reliability (hostile_cases: "block sequence nesting
50,000 deep" goes through a real `gitline serve`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEEP = {
    "block": "x:\n" + "- " * 50000 + "x\n",
    "block mapping": "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(3000)) + "  v\n",
    "flow": "x: " + "[" * 50000 + "]" * 50000 + "\n",
    "complex keys": "? " * 50000 + "x\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_validate_reports_deep_nesting_at_its_line(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "shippable.yml"
    path.write_text("resources: []\n" + DEEP[kind])
    done = subprocess.run([sys.executable, "-m", "controller.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"{path}:" in done.stdout and "YAML nested deeper than 64 levels" in done.stdout
    assert "Traceback" not in done.stderr
    line = int(done.stdout.split(f"{path}:", 1)[1].split(":", 1)[0])
    assert line >= 2  # at the deep part, not at the top of the file
