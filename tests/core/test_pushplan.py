"""The answer to a push, in domain words: what it versions, what runs and why, which files
are accepted, and the lines the pusher reads. Pure: YAML text and snapshots in."""

from __future__ import annotations

import pytest

from controller.core import approvals, intake, loader, model, pushplan, pushwords

LINE = """\
resources:
  - name: app_src
    type: gitRepo
    versionTemplate: {sourceName: ".", path: app}
  - name: app_params
    type: params
    versionTemplate: {params: {COLOR: blue}}
jobs:
  - name: build_app
    type: runSh
    steps:
      - IN: app_src
      - TASK: {script: [echo build]}
  - name: test_app
    type: runSh
    steps:
      - IN: build_app
      - IN: app_params
      - TASK: {script: [echo test]}
  - name: deploy_prod
    type: runSh
    requiresApproval: {approvers: [ada@example.com]}
    steps:
      - IN: test_app
        switch: off
      - TASK: {script: [echo deploy]}
"""
HEAD = "c" * 40
OLD = "b" * 40


def load(text: str = LINE) -> model.Workflow:
    return loader.load_workflow([("shippable.yml", text)])


def settled(wf: model.Workflow, tree: str = "t1") -> model.Snapshot:
    """The state after everything of `wf` ran once: no push pending."""
    taken = intake.take_config(wf, OLD, None, model.Snapshot(), tracked_trees={"app_src": tree})
    versions = {v.resource: v for v in taken.versions}
    jobs = {name: model.JobHistory(
        last=model.Run(name, 1, "succeeded", model.Cause("input", "x"), tuple(
            model.InputVersion(i.name, "job" if i.name in wf.jobs else "resource", 1)
            for i in job.inputs)), last_succeeded=1) for name, job in wf.jobs.items()}
    return model.Snapshot(versions, jobs, OLD, OLD)


def plan(text: str = LINE, snap: model.Snapshot | None = None, **kw) -> pushplan.PushPlan:
    wf = load(text)
    kw.setdefault("tracked_trees", {"app_src": "t1"})
    return pushplan.plan_push(wf, HEAD, settled(load()) if snap is None else snap, **kw)


def runs(p: pushplan.PushPlan) -> list[str]:
    return [f"{r.job}: {r.why}" for r in p.runs]


def test_files_changed_under_a_tracked_path_version_the_source_and_run_the_line_in_order():
    p = plan(tracked_trees={"app_src": "t2"})
    assert [(v.resource, v.number, v.why) for v in p.versions] == [
        ("app_src", 2, "files under app/ changed")]
    assert runs(p) == [f"build_app: app_src changed: version 2 ({HEAD[:7]})",
                       "test_app: after build_app"]


def test_a_changed_definition_runs_its_job_and_what_follows_it():
    p = plan(LINE.replace("COLOR: blue", "COLOR: red"))
    assert [(v.resource, v.why) for v in p.versions] == [("app_params", "definition changed")]
    assert runs(p) == ["test_app: app_params changed: version 2"]


def test_a_push_that_changes_nothing_a_job_reads_runs_nothing():
    p = plan(LINE + "# a comment\n")
    assert (p.versions, p.runs) == ((), ())
    assert "gitline: no job will run" in pushwords.render(p)


def test_a_first_push_versions_everything_and_runs_from_the_sources():
    p = plan(snap=model.Snapshot())
    assert {v.why for v in p.versions} == {"first version"}
    assert [r.job for r in p.runs] == ["build_app", "test_app"]
    assert p.runs[1].after == "build_app"


def trigger(path: str, job: str, params: dict | None = None, error: str = ""):
    return model.TriggerRequest(job, HEAD, "Ada <ada@example.com>", path, params or {}, error)


def test_trigger_files_are_accepted_with_their_parameters_or_refused_with_the_reason():
    p = plan(triggers=[trigger("triggers/build_app", "build_app", {"REASON": "hotfix"}),
                       trigger("triggers/nope", "nope"),
                       trigger("triggers/test_app", "test_app", error="bad file")])
    assert [(f.path, f.accepted, f.why) for f in p.files] == [
        ("triggers/build_app", True, "build_app runs once (REASON=hotfix)"),
        ("triggers/nope", False, "no job named 'nope' in the workflow"),
        ("triggers/test_app", False, "bad file")]
    assert runs(p)[0] == f"build_app: trigger file triggers/build_app in {HEAD[:7]} " \
                         "(REASON=hotfix)"


def test_a_gated_job_is_said_to_wait_for_approval():
    p = plan(triggers=[trigger("triggers/deploy_prod", "deploy_prod")])
    assert [(r.job, r.gated) for r in p.runs] == [("deploy_prod", True)]
    assert "  deploy_prod: trigger file triggers/deploy_prod in ccccccc; waits for approval" \
        in pushwords.render(p)


def pending(snap: model.Snapshot) -> model.Snapshot:
    run = model.Run("deploy_prod", 2, "pending_approval", model.Cause("trigger", "t"))
    jobs = {**snap.jobs, "deploy_prod": model.JobHistory(run, 1, (run,))}
    return model.Snapshot(snap.versions, jobs, snap.processed_commit, snap.good_commit)


def decision(job: str = "deploy_prod", identity: approvals.Identity | None = None,
             error: str = "") -> approvals.ApprovalRequest:
    return approvals.ApprovalRequest(job, HEAD, "Ada <ada@example.com>", f"approvals/{job}",
                                     error=error, identity=identity)


@pytest.mark.parametrize(("request_", "pending_run", "accepted", "why"), [
    (decision(), True, True, "approves deploy_prod run 2 if the controller can prove who made"
                             " the commit and that is an approver (ada@example.com)"),
    (decision(identity=approvals.Identity("ada", "ada@example.com", "token")), True, True,
     "approves deploy_prod run 2 (by ada <ada@example.com> (token))"),
    (decision(identity=approvals.Identity("bob", "bob@example.com", "token")), True, False,
     "bob <bob@example.com> (token) is not an approver (approvers: ada@example.com)"),
    (decision(), False, False, "no run of deploy_prod is pending approval"),
    (decision("build_app"), True, False, "job 'build_app' does not require approval"),
    (decision(error="unknown decision 'maybe'"), True, False, "unknown decision 'maybe'"),
], ids=["unproven", "approver", "not-an-approver", "nothing-pending", "not-gated", "bad-file"])
def test_approval_files_are_checked_as_the_controller_will(request_, pending_run, accepted, why):
    snap = settled(load())
    p = plan(snap=pending(snap) if pending_run else snap, decisions=[request_])
    assert [(f.accepted, f.why) for f in p.files] == [(accepted, why)]


def test_an_unresolved_name_is_shown_at_its_line_and_what_it_touches_waits():
    p = plan(LINE.replace("- IN: build_app", "- IN: build_ap"))
    lines = pushwords.render(p)
    assert lines[1] == ("  shippable.yml:17:9: error: unresolved input 'build_ap' of job "
                        "'test_app'; did you mean 'build_app'?")
    assert "gitline: what the errors touch waits (inconsistent); the rest runs" in lines
    assert not p.refused(reject_invalid=False)


def test_with_reject_invalid_a_workflow_with_errors_is_refused_with_the_same_lines():
    p = plan(LINE.replace("- IN: build_app", "- IN: build_ap"))
    lines = pushwords.render(p, reject_invalid=True)
    assert p.refused(reject_invalid=True)
    assert lines[-1].startswith("gitline: push refused: the workflow has errors")
    assert not any("will run" in line for line in lines)


def test_broken_yaml_keeps_the_last_good_workflow_and_plans_with_it():
    good = load()
    p = plan(LINE + "  bad: [\n", good=(OLD, good),
             triggers=[trigger("triggers/build_app", "build_app")])
    assert (p.loads, p.kept) == (False, OLD)
    assert str(p.errors[0].location) == "shippable.yml:27:3"
    assert [r.job for r in p.runs] == ["build_app", "test_app"]  # under the last good one
    lines = pushwords.render(p)
    assert lines[0] == "gitline: the pushed workflow does not load: 1 error, 0 warnings"
    assert lines[2] == f"gitline: the last good workflow ({OLD[:7]}) keeps running"


def test_broken_yaml_with_nothing_good_yet_runs_nothing_and_refuses_its_triggers():
    p = plan(LINE + "  bad: [\n", snap=model.Snapshot(),
             triggers=[trigger("triggers/build_app", "build_app")])
    assert (p.runs, [f.why for f in p.files]) == ((), ["the workflow does not load"])


def test_queued_runs_of_a_removed_job_are_said_to_be_cancelled():
    snap = settled(load())
    queued = model.Run("old_job", 4, "queued", model.Cause("input", "x"))
    snap = model.Snapshot(snap.versions, {**snap.jobs, "old_job": model.JobHistory(
        queued, 3, (queued,))}, OLD, OLD)
    assert plan(snap=snap).cancelled == ("old_job run 4",)


def test_a_big_plan_says_its_counts_then_its_first_lines():
    jobs = "".join(f"  - name: j{i:03d}\n    type: runSh\n    steps:\n      - IN: app_params\n"
                   f"      - TASK: {{script: [echo {i}]}}\n" for i in range(40))
    text = LINE.replace("jobs:\n", "jobs:\n" + jobs).replace("COLOR: blue", "COLOR: red")
    lines = pushwords.render(plan(text, snap=settled(load(LINE.replace("jobs:\n",
                                                                       "jobs:\n" + jobs)))))
    assert "gitline: 41 jobs will run:" in lines
    assert "  ... and 31 more" in lines
    assert len(lines) < 20


def test_the_json_holds_everything_unabridged():
    data = pushwords.as_json(plan(tracked_trees={"app_src": "t2"}))
    assert data["runs"][1] == {"job": "test_app", "why": "after build_app",
                               "after": "build_app", "gated": False}
    assert data["versions"] == [{"resource": "app_src", "version": 2,
                                 "why": "files under app/ changed"}]
    assert (data["refused"], data["errors"]) == (False, 0)


class Commit:
    def __init__(self, sha: str, *paths: str) -> None:
        self.sha, self.author, self.changed_paths = sha, "Ada <ada@example.com>", paths


def test_file_requests_read_each_trigger_and_approval_file_of_each_commit_once():
    blobs = {("c1", "triggers/build_app.env"): b"A=1\n", ("c2", "approvals/deploy_prod"):
             b"reject: red\n", ("c2", "triggers/gone"): None}

    def read(sha: str, path: str) -> bytes | None:
        if path == "triggers/link":
            raise ValueError("triggers/link is a symlink, not a file")
        return blobs.get((sha, path))

    asked, decided = intake.file_requests(
        [Commit("c1", "triggers/build_app.env", "app/x", "triggers/a/b"),
         Commit("c2", "approvals/deploy_prod", "triggers/gone", "triggers/link",
                "triggers/test_app")],
        read, done={("test_app", "c2")})
    assert [(r.job, r.commit, r.params, r.error) for r in asked] == [
        ("build_app", "c1", {"A": "1"}, ""),
        ("a/b", "c1", {}, "triggers/a/b is not a trigger file: use triggers/<job> for a job "
                          "name"),
        ("link", "c2", {}, "triggers/link is a symlink, not a file")]
    assert [(d.job, d.decision, d.reason) for d in decided] == [("deploy_prod", "reject", "red")]


def test_infos_are_counted_not_listed_and_a_name_with_spaces_is_quoted():
    text = LINE.replace("  - name: test_app\n    type: runSh\n",
                        '  - name: "test app"\n    type: runSh\n    flags: [x]\n')
    text = text.replace("- IN: test_app", '- IN: "test app"')
    p = plan(text, snap=model.Snapshot())
    lines = pushwords.render(p)
    assert lines[0] == ("gitline: 2 resources, 3 jobs; 0 errors, 0 warnings (1 info: gitline "
                        "validate shows them)")
    assert '  "test app": after build_app' in lines
    assert pushwords.as_json(p)["infos"] == 1


def test_the_jobs_a_planned_run_starts_are_those_of_the_whole_start_graph():
    """pushplan works out the start graph for the jobs a push reaches only: the same."""
    import random

    from controller.core import graph, pushplan
    from tests.core.test_replan import _workflow

    rng = random.Random(7)
    for _ in range(300):
        wf = _workflow(rng)
        starts = pushplan._Starts(wf)
        assert {j: starts.of(j) for j in wf.jobs} == graph.starts(wf)
