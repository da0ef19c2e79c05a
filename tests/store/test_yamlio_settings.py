"""yamlio's fast reader takes HOME/gitline.yml as written, and reads exactly what YAML does."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from controller.store import yamlio
from controller.store.repoinit import init_home

TEXTS = [
    "listen: 127.0.0.1:8080\n",
    "# a comment\nbroker_url: redis://127.0.0.1:6379/0\n  # indented comment\nworkers: 2\n",
    "a: 1:20\nb: 12:30:00\nc: x:y:z\n",
    "a:\n  - host:80\n  - 1\n",
    "a: 2026-12-02T09:00:00Z\n",  # a timestamp: left to ruamel
    "a: x # trailing comment\n",
    "a: -1:20\n",
    "a: x::y\n",
]


@pytest.mark.parametrize("text", TEXTS)
def test_fast_reader_reads_what_yaml_reads(text):
    assert yamlio.load(text) == YAML(typ="safe", pure=True).load(text)


def test_generated_gitline_yml_needs_no_ruamel(tmp_path, monkeypatch):
    init_home(tmp_path / "home")
    text = (tmp_path / "home" / "gitline.yml").read_text()

    def refuse(_text):
        raise AssertionError("fell back to ruamel.yaml")

    monkeypatch.setattr(yamlio, "_load_ruamel", refuse)
    assert yamlio.load(text)["listen"] == "127.0.0.1:8080"
