"""The planner, in domain words: which jobs are due from versions and runs, and why not."""

from __future__ import annotations

from controller.core import model, planner, versions

LOC = model.Location("shippable.yml", 1, 1)


def res(name: str, type_: str = "params", **definition) -> model.Resource:
    return model.Resource(name, type_, definition, LOC, digest=f"d-{name}-{definition}")


def job(name: str, *inputs: model.Input, **kw) -> model.Job:
    return model.Job(name, "runSh", LOC, inputs=inputs, **kw)


def inp(name: str, **kw) -> model.Input:
    return model.Input(name, LOC, **kw)


def wf(*objs) -> model.Workflow:
    return model.Workflow(
        resources={o.name: o for o in objs if isinstance(o, model.Resource)},
        jobs={o.name: o for o in objs if isinstance(o, model.Job)},
    )


def ver(name: str, number: int, created_by: str = "config abc", vname: str = "") -> model.Version:
    return model.Version(name, number, vname, created_by=created_by, digest="x")


def ran(job_name: str, number: int, status: str = "succeeded", **inputs) -> model.Run:
    ivs = tuple(model.InputVersion(k, "job" if k.startswith("j_") else "resource", v)
                for k, v in inputs.items())
    return model.Run(job_name, number, status, model.Cause("input", "x"), ivs)


def snap(versions=(), runs=()) -> model.Snapshot:
    jobs: dict[str, model.JobHistory] = {}
    for r in runs:
        h = jobs.get(r.job, model.JobHistory())
        active = (*h.active, r) if r.status in ("queued", "running") else h.active
        ok = r.number if r.status == "succeeded" else h.last_succeeded
        jobs[r.job] = model.JobHistory(last=r, last_succeeded=max(ok, h.last_succeeded),
                                       active=active)
    return model.Snapshot(versions={v.resource: v for v in versions}, jobs=jobs)


def due(plan: planner.Plan) -> list[str]:
    return [r.job for r in plan.runs]


def test_a_job_with_a_new_input_version_is_due_with_that_cause():
    w = wf(res("app"), job("build", inp("app")))
    plan = planner.plan_runs(w, snap([ver("app", 2)], [ran("build", 1, app=1)]))
    assert due(plan) == ["build"]
    assert plan.runs[0].cause.detail == "app version 2"
    assert plan.runs[0].inputs == (model.InputVersion("app", "resource", 2),)


def test_nothing_changed_plans_nothing_and_says_up_to_date():
    w = wf(res("app"), job("build", inp("app")))
    plan = planner.plan_runs(w, snap([ver("app", 1)], [ran("build", 1, app=1)]))
    assert due(plan) == []
    assert plan.waits["build"] == "up to date with run 1 (succeeded)"


def test_first_push_runs_jobs_whose_inputs_have_versions():
    w = wf(res("app"), job("build", inp("app")))
    assert due(planner.plan_runs(w, snap([ver("app", 1)]))) == ["build"]


def test_switch_off_input_never_starts_a_job():
    w = wf(res("app"), res("cfg"), job("deploy", inp("app"), inp("cfg", switch=False)))
    plan = planner.plan_runs(w, snap([ver("app", 1), ver("cfg", 5)],
                                     [ran("deploy", 1, app=1, cfg=4)]))
    assert due(plan) == []


def test_only_switch_off_inputs_says_how_to_start_it():
    w = wf(res("cfg"), job("deploy", inp("cfg", switch=False)))
    plan = planner.plan_runs(w, snap([ver("cfg", 1)]))
    assert due(plan) == []
    assert "triggers/deploy" in plan.waits["deploy"]


def test_downstream_runs_after_upstream_succeeds_not_while_it_runs():
    w = wf(res("app"), job("j_build", inp("app")), job("test", inp("j_build")))
    running = snap([ver("app", 1)], [ran("j_build", 1, "running", app=1)])
    plan = planner.plan_runs(w, running)
    assert due(plan) == []
    assert plan.waits["test"].startswith("waiting for input job j_build")
    done = snap([ver("app", 1)], [ran("j_build", 1, app=1)])
    assert due(planner.plan_runs(w, done)) == ["test"]


def test_new_version_runs_exactly_the_jobs_downstream_of_it():
    w = wf(res("a"), res("b"), job("ja", inp("a")), job("jb", inp("b")))
    s = snap([ver("a", 2), ver("b", 1)], [ran("ja", 1, a=1), ran("jb", 1, b=1)])
    assert due(planner.plan_runs(w, s)) == ["ja"]


def test_pinned_input_is_visible_and_does_not_stop_other_inputs():
    w = wf(res("img"), res("cfg"),
           job("deploy", inp("img", version_name="42"), inp("cfg")))
    s = snap([ver("img", 9, vname="50"), ver("cfg", 2)], [ran("deploy", 1, img=0, cfg=1)])
    plan = planner.plan_runs(w, s)
    assert due(plan) == ["deploy"]
    assert plan.runs[0].inputs[0].version_name == "42"
    s2 = snap([ver("img", 9, vname="50"), ver("cfg", 2)], [ran("deploy", 1, img=0, cfg=2)])
    assert "img pinned to versionName 42" in planner.plan_runs(w, s2).waits["deploy"]


def test_a_jobs_own_output_does_not_retrigger_it():
    w = wf(res("st"), job("tf", inp("st")))
    s = snap([ver("st", 2, created_by="tf run 1")], [ran("tf", 1, st=1)])
    assert due(planner.plan_runs(w, s)) == []


def test_trigger_runs_once_with_params_and_suppresses_a_duplicate_level_run():
    w = wf(res("app"), job("deploy", inp("app")))
    req = model.TriggerRequest("deploy", "c1", "Ada <a@x>", "triggers/deploy", {"R": "1"})
    plan = planner.plan_runs(w, snap([ver("app", 1)]), triggers=[req])
    assert due(plan) == ["deploy"]
    assert plan.runs[0].params == {"R": "1"}
    assert plan.runs[0].cause.kind == "trigger"


def test_trigger_for_a_missing_job_is_rejected_with_reason():
    w = wf(res("app"), job("deploy", inp("app")))
    req = model.TriggerRequest("deploi", "c1", "Ada <a@x>", "triggers/deploi")
    plan = planner.plan_runs(w, snap([ver("app", 1)], [ran("deploy", 1, app=1)]), triggers=[req])
    assert due(plan) == []
    assert plan.rejected[0].error == "no job named 'deploi' in the workflow"


def test_inconsistent_and_cloud_jobs_are_skipped_with_reason_rest_runs():
    w = model.Workflow(
        resources={"app": res("app")},
        jobs={"a": job("a", inp("app")), "b": job("b", inp("app")),
              "c": model.Job("c", "runCI", LOC, inputs=(inp("app"),),
                             not_runnable="runCI needs Shippable CI")},
        inconsistent={"b": "input 'nope' is not defined (shippable.yml:3:5)"},
    )
    plan = planner.plan_runs(w, snap([ver("app", 1)]))
    assert due(plan) == ["a"]
    assert plan.waits["b"].startswith("inconsistent: input 'nope'")
    assert plan.waits["c"] == "not runnable here: runCI needs Shippable CI"


def test_interrupted_run_is_run_again_with_the_same_inputs():
    w = wf(res("app"), job("build", inp("app")))
    s = snap([ver("app", 3)], [ran("build", 4, "interrupted", app=2)])
    plan = planner.plan_runs(w, s)
    assert plan.runs[0].cause.kind == "retry"
    assert plan.runs[0].inputs[0].number == 2


def test_state_input_never_triggers_and_may_be_empty():
    w = wf(res("app"), res("st", "state"), job("tf", inp("app"), inp("st")))
    plan = planner.plan_runs(w, snap([ver("app", 1)]))
    assert due(plan) == ["tf"]
    assert plan.runs[0].inputs[1].number == 0
    s = snap([ver("app", 1), ver("st", 5, "other run 1")], [ran("tf", 1, app=1, st=0)])
    assert due(planner.plan_runs(w, s)) == []


def test_serial_job_starts_one_queued_run_at_a_time():
    j = job("build")
    runs = (ran("build", 1, "running"), ran("build", 2, "queued"))
    hist = snap(runs=runs).jobs["build"]
    assert planner.runnable_now(j, hist) == []
    hist = snap(runs=(ran("build", 2, "queued"), ran("build", 3, "queued"))).jobs["build"]
    assert [r.number for r in planner.runnable_now(j, hist)] == [2]
    par = job("build", trigger_mode="parallel")
    assert [r.number for r in planner.runnable_now(par, hist)] == [2, 3]


def test_definition_change_makes_one_version_and_is_idempotent():
    w = wf(res("cfg", params={"A": 1}))
    s = snap()
    new = versions.plan_versions(w, s, commit="c" * 40, author="Ada")
    assert [(v.resource, v.number) for v in new] == [("cfg", 1)]
    s2 = model.Snapshot(versions={"cfg": new[0]})
    assert versions.plan_versions(w, s2, commit="d" * 40) == []
    w2 = wf(res("cfg", params={"A": 2}))
    assert [v.number for v in versions.plan_versions(w2, s2, commit="d" * 40)] == [2]


def test_tracked_files_change_versions_a_self_gitrepo():
    r = model.Resource("src", "gitRepo", {"sourceName": "."}, LOC, tracks_path="app",
                       digest="d")
    w = wf(r)
    first = versions.plan_versions(w, snap(), commit="a" * 40, tracked_trees={"src": "t1"})
    assert first[0].name == "a" * 40
    s = model.Snapshot(versions={"src": first[0]})
    assert versions.plan_versions(w, s, commit="b" * 40, tracked_trees={"src": "t1"}) == []
    assert len(versions.plan_versions(w, s, commit="b" * 40, tracked_trees={"src": "t2"})) == 1


def test_dependency_modes_decide_whether_a_failed_or_busy_input_job_blocks():
    def line(mode: str, **in_mode) -> model.Workflow:
        return wf(res("app"), job("j_up", inp("app")),
                  job("down", inp("j_up", **in_mode), inp("app"), dependency_mode=mode))

    failed = snap([ver("app", 2)], [ran("j_up", 1, app=1), ran("down", 1, j_up=1, app=1),
                                    ran("j_up", 2, "failed", app=2)])
    # "if Job-1 is in failed state or is queued, Job-4 will not trigger" (chrono, the default)
    for mode in ("chrono", "strict"):
        plan = planner.plan_runs(line(mode), failed)
        assert "down" not in due(plan)
        assert plan.waits["down"] == "input job j_up run 2 failed"
    assert "down" in due(planner.plan_runs(line("immediate"), failed))
    # an IN's own dependencyMode overrides the job's, for that input
    assert "down" in due(planner.plan_runs(line("chrono", dependency_mode="immediate"), failed))
    assert "down" not in due(planner.plan_runs(line("immediate", dependency_mode="chrono"),
                                               failed))

    busy = snap([ver("app", 2)], [ran("j_up", 1, app=1), ran("down", 1, j_up=1, app=1),
                                  ran("j_up", 2, "running", app=2)])
    assert "down" not in due(planner.plan_runs(line("chrono"), busy))
    assert "down" in due(planner.plan_runs(line("immediate"), busy))


def test_a_trigger_file_runs_a_job_whose_input_job_failed_and_waits_while_it_is_busy():
    w = wf(res("app"), job("j_up", inp("app")), job("down", inp("j_up")))
    req = model.TriggerRequest("down", "c" * 40, "Ada", "triggers/down", {"WHY": "now"})
    failed = snap([ver("app", 2)], [ran("j_up", 1, app=1), ran("j_up", 2, "failed", app=2)])
    assert due(planner.plan_runs(w, failed, triggers=[req])) == ["down"]
    busy = snap([ver("app", 2)], [ran("j_up", 1, app=1), ran("j_up", 2, "queued", app=2)])
    plan = planner.plan_runs(w, busy, triggers=[req])
    assert not plan.rejected and "down" not in due(plan)
    [waiting] = plan.waiting  # kept, as a pending build: it runs once j_up run 2 ended
    assert waiting.error == "waiting for input job j_up (run 2 queued)"
    assert waiting.params == {"WHY": "now"} and waiting.commit == "c" * 40
    gone = model.TriggerRequest("nope", "d" * 40, "Ada", "triggers/nope")
    assert planner.plan_runs(w, busy, triggers=[gone]).rejected[0].error == (
        "no job named 'nope' in the workflow")  # never runnable: refused, not kept


def test_strict_also_waits_on_the_jobs_above_its_input_job():
    def line(mode: str) -> model.Workflow:
        return wf(res("app"), job("j_a", inp("app")), job("j_b", inp("j_a")),
                  job("down", inp("j_b"), dependency_mode=mode))

    s = snap([ver("app", 2)], [ran("j_a", 1, app=1), ran("j_b", 1, j_a=1),
                               ran("j_a", 2, "failed", app=2)])
    assert planner.plan_runs(line("strict"), s).waits["down"] == "upstream job j_a run 2 failed"
    assert "down" in due(planner.plan_runs(line("chrono"), s))


def test_a_replay_does_not_make_newer_versions_look_unprocessed():
    w = wf(res("app"), job("build", inp("app")))
    replay = model.Run("build", 3, "succeeded", model.Cause("replay", "run 1"),
                       (model.InputVersion("app", "resource", 1),),
                       baseline=(model.InputVersion("app", "resource", 2),))
    s = model.Snapshot(versions={"app": ver("app", 2)},
                       jobs={"build": model.JobHistory(last=replay, last_succeeded=3)})
    assert due(planner.plan_runs(w, s)) == []


def test_priority_orders_due_runs():
    w = wf(res("app"), job("b_low", inp("app"), priority=500), job("a_high", inp("app"),
                                                                     priority=10))
    assert due(planner.plan_runs(w, snap([ver("app", 1)]))) == ["a_high", "b_low"]


def test_a_job_waits_for_its_input_job_due_in_the_same_pass_whatever_the_names():
    w = wf(res("app"), job("z_up", inp("app")), job("a_down", inp("z_up"), inp("app")))
    s = snap([ver("app", 2)], [ran("z_up", 1, app=1), ran("a_down", 1, z_up=1, app=1)])
    plan = planner.plan_runs(w, s)
    assert due(plan) == ["z_up"]
    assert plan.waits["a_down"] == "waiting for input job z_up (run 2 queued)"


def test_jobs_in_a_cycle_are_each_planned_once():
    w = wf(res("app"), job("j_a", inp("app"), inp("j_b")), job("j_b", inp("j_a")))
    plan = planner.plan_runs(w, snap([ver("app", 1)]))
    assert sorted([*due(plan), *plan.waits]) == ["j_a", "j_b"]
