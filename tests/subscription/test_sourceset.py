"""The running controller's sources follow gitline.yml (reactor/sourceset.py): a source
listed later is taken in, one no longer listed is dropped, and a gitline.yml that no longer
loads (an escaping name) changes nothing."""

from __future__ import annotations

import os

from controller.core.subscription import SourceSpec
from controller.reactor.sourceset import SourceSet
from controller.settings import Settings
from controller.store.configrepo import ConfigRepo
from controller.store.repoinit import init_home
from controller.store.subscription import Subscription


def write_settings(home, text: str) -> None:
    path = home / "gitline.yml"
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a visible change


def test_sources_follow_gitline_yml(tmp_path):
    init_home(tmp_path)
    write_settings(tmp_path, "sources: {shipit: {}}\n")
    settings = Settings.load(tmp_path)
    sub = Subscription(ConfigRepo(settings.repo_path, "main"))
    followed: list[str] = []
    sources = SourceSet(settings, sub, lambda: None, follower=lambda spec: spec,  # type: ignore[arg-type,return-value]
                        on_follow=lambda spec, f: followed.append(spec.name),
                        on_unfollow=lambda name: followed.remove(name))
    assert set(sub.sources) == {"shipit"} and set(sources.git) == {"shipit"}
    assert (tmp_path / "repos" / "shipit.git" / "HEAD").exists()
    assert not sources.refresh()  # unchanged file: nothing to do

    write_settings(tmp_path, "sources: {shipit: {}, infra: {upstream: 'https://h/i.git'}}\n")
    assert sources.refresh()
    assert set(sub.sources) == {"shipit", "infra"} and followed == ["infra"]
    assert sources.git["infra"][2] is True  # followed: direct pushes refused

    write_settings(tmp_path, "sources: {shipit: {}, '../x': {}}\n")
    assert not sources.refresh()  # does not load: everything stays
    assert set(sub.sources) == {"shipit", "infra"}
    assert not (tmp_path / "x.git").exists()

    write_settings(tmp_path, "sources: {infra: {upstream: 'https://h/i.git'}}\n")
    assert sources.refresh()
    assert set(sub.sources) == {"infra"} and set(sources.git) == {"infra"}
    assert followed == ["infra"]
    assert sources.taken_in(1.0)


def test_a_changed_upstream_makes_a_new_follower(tmp_path):
    init_home(tmp_path)
    write_settings(tmp_path, "sources: {infra: {upstream: 'https://h/i.git'}}\n")
    settings = Settings.load(tmp_path)
    sub = Subscription(ConfigRepo(settings.repo_path, "main"))
    made: list[SourceSpec] = []
    sources = SourceSet(settings, sub, lambda: None,
                        follower=lambda spec: made.append(spec) or spec,  # type: ignore[arg-type,func-returns-value]
                        on_follow=lambda spec, f: None, on_unfollow=lambda name: None)
    write_settings(tmp_path, "sources: {infra: {upstream: 'https://h/other.git'}}\n")
    assert sources.refresh()
    assert [m.upstream for m in made] == ["https://h/i.git", "https://h/other.git"]
