"""Several clients pushing and force-pushing at once.

A rejected non-fast-forward push is the git client's business (it pulls and pushes
again); everything the repository accepted is processed once: each trigger commit on the
final history runs exactly once, none runs twice, and the last config is the one running.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from controller.store.gitstate import GitStateStore
from tests.harness.commands import run
from tests.harness.home import Home
from tests.harness.storm import SOAK, Client
from tests.harness.wait import wait_for


def test_concurrent_pushers_and_a_force_push(home: Home, tmp_path: Path) -> None:
    (home.work / "README").write_text("pushers\n")
    home.push("start")
    home.start()
    clients = [Client(home, tmp_path, k) for k in range(4)]
    errors: list[BaseException] = []
    threads = [threading.Thread(target=c.storm, args=(60 if SOAK else 9, errors))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == []

    # A force push: client 0 rewrites the tip it last pushed (a new trigger commit in place).
    c0 = clients[0]
    c0.git("pull", "-q", "--rebase", "origin", "main")
    (c0.work / "triggers" / "j0").write_text("N=forced\n")
    c0.git("commit", "-q", "-a", "--amend", "-m", "rewritten")
    c0.git("push", "-q", "--force", "origin", "HEAD:main")
    forced = c0.git("rev-parse", "HEAD").stdout.strip()

    wait_for(lambda: home.status()["config"]["processed"] == forced, 120, "the forced head")
    home.wait_idle(120)
    store = GitStateStore(home.repo)
    history = run("git", "--git-dir", home.repo, "rev-list", "main").stdout.split()
    for c in clients:
        runs = [e.run for e in store.history(f"j{c.k}", 100_000) if e.run]
        by_commit = Counter(r.cause.commit for r in runs if r.cause.kind == "trigger")
        assert all(n == 1 for n in by_commit.values()), by_commit  # none ran twice
        for sha in c.triggers:
            if sha in history:  # still on main: accepted and kept, so processed once
                assert by_commit[sha] == 1, (c.k, sha)
        assert f'V: "{c.value}"' in home.show(f"resources/r{c.k}/version.yml")
    runs0 = [e.run for e in store.history("j0", 5) if e.run]
    assert any(r.cause.commit == forced for r in runs0)  # the rewritten tip ran
    assert run("git", "--git-dir", home.repo, "fsck", "--full").returncode == 0
