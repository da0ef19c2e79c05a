"""Where the corpus of real Shippable configurations is: ../shared/corpus beside this
checkout, or $GITLINE_CORPUS (a worktree elsewhere can point at the shared one)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.harness.commands import ROOT

CORPUS = Path(os.environ.get("GITLINE_CORPUS") or ROOT.parent / "shared" / "corpus")
SHIPPABLE = CORPUS / "shippable"  # one folder per repository, under repos/
