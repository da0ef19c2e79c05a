"""Running a CI section (`model.CiPlan`): the work of a `<repo>_runCI` run.

Each matrix row runs in turn, as Shippable ran each in a container of its own: in the
checkout of the source (`IN/<repo>_ciRepo/gitRepo`; with several rows, a fresh copy of it
per row under `ci/row<N>`), with the section's env exported (global entries, then the
row's), `pre_ci`, `ci`, `post_ci` until one fails, then `on_success` or `on_failure`, then
`always`. Every script is a step of the run (`step.run_step`: the same sandbox, log and
process-group handling as a TASK). After a row its reports are summarised
(`ci_reports`). One run records every row: `Run.ci`, one `CiResult` per row.

The run fails when a row fails that `matrix: allow_failures` does not allow; a timeout or
cancel stops the rows after it. A branch `branches:` does not build is not run at all.
"""

from __future__ import annotations

import fnmatch
import shutil
import time
from pathlib import Path

from controller.core import model, runenv
from controller.core.hooks import StepResult
from controller.execution import ci_reports
from controller.execution.step import StepContext, run_step

ROWS_DIR = "ci"


def branch_of(ctx: StepContext, checkout: str) -> str:
    """The branch the checkout's version is of ("" when its version does not say)."""
    for inp in ctx.spec.inputs:
        if inp.name == checkout:
            values = inp.version.values if inp.version else {}
            for key in ("branch", "branchName"):
                for source in (values, inp.definition):
                    if source.get(key):
                        return str(source[key])
    return ""


def not_built(plan: model.CiPlan, branch: str) -> str:
    """Why `branch` is not built by `branches: only / except` ("" when it is)."""
    if not branch:
        return ""
    if plan.branches_only and not any(fnmatch.fnmatchcase(branch, g) for g in plan.branches_only):
        return f"branch '{branch}' is not built (branches: only: {', '.join(plan.branches_only)})"
    if any(fnmatch.fnmatchcase(branch, g) for g in plan.branches_except):
        return f"branch '{branch}' is not built (branches: except: " \
               f"{', '.join(plan.branches_except)})"
    return ""


def run(ctx: StepContext, deadline: float | None,
        hook_timeout: float) -> tuple[StepResult, int | None, str]:
    """Every row of the job's CI plan; (result, exit code, title of the failing step)."""
    plan = ctx.spec.job.ci
    assert plan is not None
    source = ctx.workdir / runenv.io_dir("IN", plan.checkout) / "gitRepo"
    source.mkdir(parents=True, exist_ok=True)  # a ciRepo written as another type has none
    branch = branch_of(ctx, plan.checkout)
    why = not_built(plan, branch)
    if why:
        ctx.capture.line(f"gitline: CI: {why}")
        ctx.ci.extend(model.CiResult(row.label, "skipped", note=why) for row in plan.rows)
        return "cancelled", None, f"CI: {why}"
    if not branch and (plan.branches_only or plan.branches_except):
        ctx.capture.line("gitline: CI: branches: not checked (this version names no branch)")
    outcome: tuple[StepResult, int | None, str] = ("ok", 0, "")
    folders = [source]
    if len(plan.rows) > 1:  # copied before any row runs: no row can change another's files
        folders = [ctx.workdir / ROWS_DIR / f"row{n}" for n in range(1, len(plan.rows) + 1)]
        for folder in folders:
            shutil.copytree(source, folder, symlinks=True)
    for number, (row, folder) in enumerate(zip(plan.rows, folders, strict=True), start=1):
        if outcome[0] in ("timeout", "cancelled"):
            ctx.ci.append(model.CiResult(row.label, "skipped", note=f"after {outcome[2]}"))
            continue
        result, code, title = _row(ctx, plan, row, number, folder, branch, deadline,
                                   hook_timeout)
        summary = ci_reports.summarise(folder, ctx.workdir)
        status = row_status(result, row.allow_failure)
        ctx.ci.append(model.CiResult(row.label, status, summary.passed, summary.failed,
                                     summary.skipped, summary.coverage, summary.reports,
                                     summary.note))
        ctx.capture.line(f"gitline: CI{' row ' + row.label if row.label else ''}: {status}; "
                         f"{ctx.ci[-1].summary()}")
        if result != "ok" and not (result == "failed" and row.allow_failure) \
                and outcome[0] == "ok":
            outcome = (result, code, title)
    return outcome


def row_status(result: StepResult, allowed: bool) -> str:
    """A row's status as its record says it."""
    status = {"ok": "succeeded", "failed": "failed", "timeout": "timed_out",
              "cancelled": "cancelled"}[result]
    return "failed (allowed)" if status == "failed" and allowed else status


def _row(ctx: StepContext, plan: model.CiPlan, row: model.CiRow, number: int, folder: Path,
         branch: str, deadline: float | None,
         hook_timeout: float) -> tuple[StepResult, int | None, str]:
    """One row's steps; (result, exit code, title of the step that set it)."""
    env = dict(ctx.env)
    env.update({"SHIPPABLE": "true", "CI": "true", "SHIPPABLE_BUILD_DIR": str(folder),
                "SHIPPABLE_REPO_DIR": str(folder), "BRANCH": branch,
                "IS_PULL_REQUEST": "false", "PULL_REQUEST": "false",
                "JOB_NUMBER": str(number), "SHIPPABLE_JOB_NUMBER": str(number),
                "REPO_NAME": plan.checkout.removesuffix("_ciRepo")})
    commit = _commit(ctx, plan.checkout)
    if commit:
        env["COMMIT"] = commit
    # the section's env, as Shippable exported it: written as shell, expanded by the shell
    prefix = ('cd "$SHIPPABLE_BUILD_DIR"', *(f"export {entry}" for entry in row.env))
    where = f" (row {row.label})" if row.label else ""
    result: StepResult = "ok"
    code: int | None = 0
    title = ""
    for step in ("pre_ci", "ci", "post_ci", "on_success"):
        script = plan.script(step)
        if script:
            result, code = run_step(ctx, f"{step}{where}", (*prefix, *script), env, deadline)
            if result != "ok":
                title = f"{step}{where}"
                break
    after = time.monotonic()
    if result in ("failed", "timeout") and title and not title.startswith("on_success") \
            and plan.script("on_failure") and not ctx.control.abandoned.is_set():
        run_step(ctx, f"on_failure{where}", (*prefix, *plan.script("on_failure")), env,
                 after + hook_timeout, False)
    if plan.script("always") and not ctx.control.abandoned.is_set():
        run_step(ctx, f"always{where}", (*prefix, *plan.script("always")), env,
                 time.monotonic() + hook_timeout, False)
    return result, code, title


def _commit(ctx: StepContext, checkout: str) -> str:
    for inp in ctx.spec.inputs:
        if inp.name == checkout and inp.version is not None:
            return str(inp.version.values.get("commit") or inp.version.name or "")
    return ""
