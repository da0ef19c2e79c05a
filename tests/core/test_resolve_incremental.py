"""The incremental resolution (core/resolve.resolve_from): given the previous one, exactly a
full resolution's workflow (names, "did you mean", cycles, the spread, problems in their
order), whatever changed in between; and a long-lived loader's cache keeps it."""

from __future__ import annotations

import random
from dataclasses import replace

from controller.core import fileload, loader, model, resolve, secretscope

TYPES = ["params", "params", "params", "time", "state", "notification", "gitRepo"]
# names a job may refer to: defined ones, near misses ("did you mean"), nothing like them
REFS = [*(f"r{i}" for i in range(8)), *(f"j{i}" for i in range(10)), "rr1", "j77", "zz",
        "x_runCI"]


def _loc(rng: random.Random) -> model.Location:
    return model.Location(f"p{rng.randint(0, 2)}/shippable.yml", rng.randint(1, 40), 3)


def _job(rng: random.Random, i: int) -> model.Job:
    name = f"j{i}"
    inputs = tuple(model.Input(n, _loc(rng), switch=rng.random() > 0.2)
                   for n in rng.sample(REFS, rng.randint(0, 3)))
    outputs = tuple(model.Output(n, _loc(rng))
                    for n in rng.sample([*REFS[:8], "j1", "rr2"], rng.randint(0, 2)))
    if rng.random() < 0.4 and outputs:  # its own output as a triggering input
        inputs += (model.Input(outputs[0].name, _loc(rng)),)
    # (a job both IN and OUT is left out: resolving it raises, a load says so as a whole)
    inputs = tuple(i for i in inputs if not (i.name == "j1" and i.name in
                                             {o.name for o in outputs}))
    if rng.random() < 0.05:
        inputs += (model.Input(name, _loc(rng)),)
    notify = model.Notify(rng.choice(["r5", "r6", "r55", "slak"]))
    hooks = {"on_failure": model.Hook(notify=(notify,))} if rng.random() < 0.2 else {}
    return model.Job(name, "runSh", _loc(rng), inputs, outputs, hooks=hooks,
                     integrations=("key",) if rng.random() < 0.1 else ())


def _draft(rng: random.Random) -> resolve.Draft:
    resources = {f"r{i}": model.Resource(f"r{i}", rng.choice(TYPES), {"i": i}, _loc(rng))
                 for i in range(8) if rng.random() < 0.9}
    jobs = {f"j{i}": _job(rng, i) for i in range(10) if rng.random() < 0.9}
    return resolve.Draft(resources, jobs, [model.Problem(_loc(rng), "read", "warning")],
                         unloaded={"zz": "why"} if rng.random() < 0.2 else {},
                         ci_files=["p1/shippable.yml"] if rng.random() < 0.2 else [])


def _changed(rng: random.Random, draft: resolve.Draft) -> resolve.Draft:
    """One to three changes, most of them small (as a push to one file of many)."""
    resources, jobs = dict(draft.resources), dict(draft.jobs)
    for _ in range(rng.randint(1, 3)):
        what = rng.random()
        if what < 0.35 and jobs:  # a job changed (its refs, or only where it is)
            name = rng.choice(sorted(jobs))
            jobs[name] = _job(rng, int(name[1:])) if rng.random() < 0.6 else \
                replace(jobs[name], location=_loc(rng))
        elif what < 0.6 and resources:  # a resource's definition or type changed
            name = rng.choice(sorted(resources))
            res = resources[name]
            resources[name] = replace(res, definition={"i": rng.random()}) \
                if rng.random() < 0.6 else replace(res, type=rng.choice(TYPES))
        elif what < 0.7:  # a name came or went
            name = f"j{rng.randint(0, 9)}"
            if name in jobs:
                del jobs[name]
            else:
                jobs[name] = _job(rng, int(name[1:]))
        elif what < 0.8:
            name = f"r{rng.randint(0, 7)}"
            if name in resources:
                del resources[name]
            else:
                resources[name] = model.Resource(name, rng.choice(TYPES), {}, _loc(rng))
        elif what < 0.9 and len(jobs) > 1:  # the same jobs in another order
            names = sorted(jobs)
            rng.shuffle(names)
            jobs = {n: jobs[n] for n in names}
    return resolve.Draft(resources, jobs, [model.Problem(_loc(rng), "read", "warning")],
                         unloaded=draft.unloaded if rng.random() < 0.9 else {},
                         ci_files=draft.ci_files)


def _copy(draft: resolve.Draft) -> resolve.Draft:
    """The draft as a new load makes it (resolution appends to its problems)."""
    return replace(draft, resources=dict(draft.resources), jobs=dict(draft.jobs),
                   problems=list(draft.problems))


def test_an_incremental_resolution_equals_a_full_one_on_random_changes():
    rng = random.Random(13)
    scopes = {"key": secretscope.Scope(jobs=frozenset({"j1", "j2"}))}
    reused = 0
    for _ in range(300):
        draft = _draft(rng)
        with_scopes = scopes if rng.random() < 0.3 else None
        _, memo = resolve.resolve_from(_copy(draft), with_scopes, None)
        for _ in range(5):
            draft = _changed(rng, draft)
            full = resolve.resolve(_copy(draft), with_scopes)
            again, memo = resolve.resolve_from(_copy(draft), with_scopes, memo)
            assert again == full
            assert again.problems == full.problems  # in the same order
            assert list(again.inconsistent.items()) == list(full.inconsistent.items())
            reused += memo is not None
    assert reused


def test_a_long_lived_load_resolves_only_what_changed(monkeypatch):
    files = [(f"p{i}/shippable.yml",
              f"resources:\n  - name: r{i}\n    type: params\n    versionTemplate: "
              f"{{params: {{A: '{i}'}}}}\njobs:\n  - name: j{i}\n    type: runSh\n"
              f"    steps:\n      - IN: r{i}\n" + (f"      - IN: j{i - 1}\n" if i else "")
              + "      - TASK: [echo hi]\n") for i in range(10)]
    cache = fileload.LoadCache()
    first = loader.load_workflow(files, cache=cache)
    assert loader.load_workflow(files, cache=cache) is first  # the same inputs: not again
    checked: list[str] = []
    real = resolve._Resolution.check_names

    def counted(self: resolve._Resolution, job: model.Job) -> list[str]:
        checked.append(job.name)
        return real(self, job)

    monkeypatch.setattr(resolve._Resolution, "check_names", counted)
    files[3] = (files[3][0], files[3][1].replace("A: '3'", "A: 'x'"))  # r3's definition
    again = loader.load_workflow(files, cache=cache)
    assert checked == []  # no job's names changed, nor the type of what a job writes
    assert again == loader.load_workflow(files)
    checked.clear()
    files[3] = (files[3][0], files[3][1].replace("echo hi", "echo ho"))  # j3's script
    loader.load_workflow(files, cache=cache)
    assert checked == ["j3"]
    files[4] = (files[4][0], files[4][1].replace("IN: j3", "IN: j33"))  # a typo
    again = loader.load_workflow(files, cache=cache)
    assert again == loader.load_workflow(files)
    assert "j4" in again.inconsistent and "j9" in again.inconsistent


def test_a_load_from_the_same_origin_is_taken_as_it_was():
    """The reactor takes the workflow the push's answer loaded from the same commits with
    the same options, from their shared cache; anything else loads."""
    files = [("a/shippable.yml", "jobs:\n  - name: j\n    type: runSh\n    steps:\n"
                                 "      - TASK: [echo hi]\n")]
    cache = fileload.LoadCache()
    scopes = {"key": secretscope.Scope(jobs=frozenset({"j"}))}
    wf = loader.load_workflow(files, cache=cache, scopes=scopes, origin=("c1", ()))
    assert loader.loaded(cache, ("c1", ()), scopes=dict(scopes)) is wf
    assert loader.loaded(cache, ("c2", ()), scopes=scopes) is None
    assert loader.loaded(cache, ("c1", ()), scopes=None) is None
    assert loader.loaded(cache, ("c1", ()), scopes=scopes, main_name="other") is None
    assert loader.loaded(cache, None, scopes=scopes) is None
    loader.load_workflow(files, cache=cache, scopes=scopes)  # the same files: as it was
    assert loader.loaded(cache, ("c1", ()), scopes=scopes) is wf
    other = [(files[0][0], files[0][1].replace("hi", "ho"))]
    loader.load_workflow(other, cache=cache, scopes=scopes)  # read from elsewhere
    assert loader.loaded(cache, ("c1", ()), scopes=scopes) is None
    assert loader.loaded({}, ("c1", ()), scopes=scopes) is None  # type: ignore[arg-type]
