"""The per-file cache of loaded objects (core/fileload): a load with it is the load without
it, whatever changed, and a push that changes one file of many reads that one."""

from __future__ import annotations

import random

from controller.core import fileload, loader, yamlread

# pieces a file is made of: objects, duplicates across files, infos said once per
# workflow, a CI section, unknown keys, an anchor used by another file, broken YAML
PIECES = [
    "resources:\n  - name: r{n}\n    type: params\n    versionTemplate: {{params: {{A: '{n}'}}}}\n",
    "resources:\n  - name: r1\n    type: params\n    versionTemplate: {{params: {{B: x}}}}\n",
    "jobs:\n  - name: j{n}\n    type: runSh\n    steps:\n      - IN: r{n}\n"
    "      - TASK: [echo {n}]\n",
    "jobs:\n  - name: j1\n    type: runSh\n    steps:\n      - IN: r1\n      - TASK: [echo dup]\n",
    "jobs:\n  - name: k{n}\n    type: runSh\n    on_start:\n      - NOTIFY: slack\n"
    "    steps:\n      - IN: j{n}\n      - TASK: [echo {n}]\n",
    "jobs:\n  - name: w{n}\n    type: runSh\n    steps:\n      - TASK:\n          script: [x]\n"
    "          options: {{env: [A=1]}}\n",
    "language: python\nbuild:\n  ci: [pytest]\n",
    "resources:\n  - name: q{n}\n    type: params\n    bogus: 1\n",
    "jobs:\n  - name: t{n}\n    type: runSh\n    steps:\n      - TASK: {{script: *tpl}}\n",
    "resources: [unclosed\n",
    "- just a list\n",
    "jobs:\n  - name: u{n}\n    type: runSh\n    steps:\n      - TASK: {{script: *nowhere}}\n",
    # objects that cannot be read: placeholders under their names, inconsistent
    "jobs:\n  - name: j{n}\n    tpye: runSh\n    steps:\n      - IN: r{n}\n",
    "resources:\n  - name: r{n}\n    versionTemplate: {{params: {{A: '{n}'}}}}\n",
]
TEMPLATES = ("shippable.templates.yml", "templates: &tpl\n  - echo tpl\n")


def _file(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(PIECES).format(n=n) for _ in range(rng.randint(1, 2))) \
        if rng.random() < 0.9 else ""


def test_a_cached_load_equals_a_fresh_load_on_random_changes():
    rng = random.Random(13)
    for _ in range(40):
        files = {f"p{i}/shippable.yml": _file(rng, i) for i in range(rng.randint(1, 6))}
        if rng.random() < 0.5:
            files[TEMPLATES[0]] = TEMPLATES[1]
        cache: fileload.LoadCache = {}
        for _ in range(6):
            as_list = sorted(files.items())
            assert loader.load_workflow(as_list, cache=cache) == loader.load_workflow(as_list)
            path = rng.choice(sorted(files))
            files[path] = _file(rng, rng.randint(0, 9))
            if rng.random() < 0.2:
                files[f"p{rng.randint(0, 9)}/shippable.yml"] = _file(rng, rng.randint(0, 9))
            if rng.random() < 0.1 and len(files) > 1:
                del files[rng.choice(sorted(files))]


def test_one_changed_file_is_the_only_one_read(monkeypatch):
    files = [(f"p{i}/shippable.yml", PIECES[0].format(n=i) + PIECES[2].format(n=i))
             for i in range(10)]
    cache: fileload.LoadCache = {}
    loader.load_workflow(files, cache=cache)
    parsed: list[str] = []
    real = yamlread.parse
    monkeypatch.setattr(yamlread, "parse", lambda path, *a, **k: parsed.append(path) or
                        real(path, *a, **k))
    files[3] = (files[3][0], files[3][1].replace("echo 3", "echo three"))
    wf = loader.load_workflow(files, cache=cache)
    assert parsed == ["p3/shippable.yml"]
    assert wf.jobs["j3"].tasks[0].script == ("echo three",)
    # the cache holds loaded objects, no YAML: the unchanged files' jobs are the same ones
    again = loader.load_workflow(files, cache=cache)
    assert again.jobs["j4"] is wf.jobs["j4"]
    assert all(load.lone is None for load in cache.values())


def test_files_merged_at_once_equal_files_merged_object_by_object(monkeypatch):
    """Merge.add puts a file whose names are all new in at once (dict updates); the
    workflow, its problems and their order are those of registering one object at a time,
    with duplicates within a file, across files and placeholders among them."""
    registered = [0]
    register = fileload.Merge.register

    def counted(self: fileload.Merge, path: str, named: fileload.Named) -> None:
        registered[0] += 1
        register(self, path, named)

    monkeypatch.setattr(fileload.Merge, "register", counted)
    rng = random.Random(8)
    cases = []
    for _ in range(60):
        files = sorted({f"p{i}/shippable.yml": _file(rng, rng.randint(0, 4))
                        for i in range(rng.randint(1, 6))}.items())
        cases.append((files, loader.load_workflow(files)))
    at_once_registered, registered[0] = registered[0], 0
    monkeypatch.setattr(fileload.FileLoad, "by_name", lambda self: None)
    for files, at_once in cases:
        one_by_one = loader.load_workflow(files)
        assert at_once == one_by_one
        assert [str(p) for p in at_once.problems] == [str(p) for p in one_by_one.problems]
    assert 0 < at_once_registered < registered[0] / 3  # most files went in at once
