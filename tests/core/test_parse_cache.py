"""The parse cache of a long-lived answerer: the same workflow as without it, one file
parsed again when one changed, anchors from other files still found."""

from __future__ import annotations

from controller.core import fileload, loader, yamlread

TEMPLATES = ("shippable.templates.yml", "templates: &script\n  - echo hi\n")
JOBS = ("shippable.jobs.yml", "jobs:\n  - name: j\n    type: runSh\n    steps:\n"
                              "      - TASK: {script: *script}\n")
RESOURCES = ("shippable.resources.yml", "resources:\n  - name: r\n    type: params\n"
                                        "    versionTemplate: {params: {A: '1'}}\n")


def test_a_cached_load_is_the_load_and_parses_only_what_changed(monkeypatch):
    cache: fileload.LoadCache = {}
    first = loader.load_workflow([TEMPLATES, JOBS, RESOURCES], cache=cache)
    assert first == loader.load_workflow([TEMPLATES, JOBS, RESOURCES])
    assert first.jobs["j"].tasks[0].script == ("echo hi",)  # the anchor of another file
    parsed: list[str] = []
    real = yamlread.parse
    monkeypatch.setattr(yamlread, "parse", lambda path, *a: parsed.append(path) or real(path, *a))
    changed = (RESOURCES[0], RESOURCES[1].replace("'1'", "'2'"))
    second = loader.load_workflow([TEMPLATES, JOBS, changed], cache=cache)
    # the changed file, and the jobs file again: it needs the templates' anchor
    assert sorted(set(parsed)) == ["shippable.jobs.yml", "shippable.resources.yml"]
    assert second == loader.load_workflow([TEMPLATES, JOBS, changed])
    assert len(cache) == 3


def test_what_is_said_across_files_is_said_once_per_load_not_kept_in_the_cache():
    templates = ("shippable.templates.yml",
                 "externalReferences:\n  - https://example.com/shared.yml\n")
    cache: fileload.LoadCache = {}
    first = loader.load_workflow([templates, RESOURCES], cache=cache)
    again = loader.load_workflow([templates, RESOURCES], cache=cache)
    assert again.problems == first.problems
    assert sum("externalReferences" in p.message for p in again.problems) == 1
