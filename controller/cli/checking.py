"""Commands on workflow files and pushes, before they run: validate, schema, plan, graph,
and shell completion."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from controller.cli.base import HomeCommand, emit_json, home_option, load_settings, main

if TYPE_CHECKING:
    from controller.core.model import Problem
    from controller.core.pushplan import PushPlan
    from controller.settings import Settings


@main.command(short_help="Check workflow files offline.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="text (path:line:col: ...), json, or GitHub Actions "
              "annotations (::error file=F,line=L,col=C::message).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--strict", is_flag=True, help="Warnings (an unknown key, ...) are errors.")
def validate(paths: tuple[Path, ...], fmt: str, as_json: bool, strict: bool) -> None:
    """Load PATHS (files or folders) as one workflow; print path:line:col: problems.

    Several folders are one subscription: each folder a source named after it (a corpus
    folder `owner__repo@sha`: `repo`), the first the main one; the others' files are
    named SOURCE:path. Exits 1 when there is an error (with --strict, also a warning), or
    when PATHS hold no workflow file. An info (a key Gitline reads but does not act on)
    never fails.
    """
    from dataclasses import replace

    from controller.core import loader

    _not_a_home(paths)
    files, sources = _read_subscription(paths)
    if not files:
        raise click.ClickException(
            f"no workflow file in {', '.join(map(str, paths))} (looked for shippable.yml, "
            "*.shippable.yml and the like)")
    wf = loader.load_workflow(files, sources=frozenset(list(sources)[1:]),
                              main_name=_main_name(paths, sources))
    problems = sorted(wf.problems, key=_where)
    if strict:
        problems = [replace(p, severity="error") if p.severity == "warning" else p
                    for p in problems]
    errors = sum(p.severity == "error" for p in problems)
    infos = sum(p.severity == "info" for p in problems)
    warnings = len(problems) - errors - infos
    fmt = "json" if as_json else fmt
    if fmt == "json":
        emit_json({"files": [f for f, _ in files], "resources": len(wf.resources),
                    "sources": [{"source": n, "folder": str(f), "main": i == 0}
                                for i, (n, f) in enumerate(sources.items())],
                    "jobs": len(wf.jobs), "errors": errors, "warnings": warnings,
                    "infos": infos,
                    "problems": [{"file": p.location.path, "line": p.location.line,
                                  "col": p.location.col,
                                  "severity": p.severity, "message": p.message}
                                 for p in problems]})
    else:
        for p in problems:
            if fmt == "github":
                level = {"error": "error", "warning": "warning"}.get(p.severity, "notice")
                at = p.location
                click.echo(f"::{level} file={at.path},line={at.line},col={at.col}::"
                           + p.message.replace("%", "%25").replace("\n", "%0A"))
            else:
                click.echo(str(p))
        if len(sources) > 1:
            click.echo("sources: " + ", ".join(f"{n} ({f})" for n, f in sources.items()),
                       err=True)
        click.echo(f"{len(wf.resources)} resources, {len(wf.jobs)} jobs, {errors} errors, "
                   f"{warnings} warnings, {infos} infos", err=True)
    if errors:
        raise click.exceptions.Exit(1)


@main.command(short_help="JSON Schema of workflow files, for editors.")
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) of workflow files, made from the same table
    of known keys as validate's warnings.

    \b
    gitline schema > shippable.schema.json
    then start a workflow file with (yaml-language-server, VS Code's YAML extension):
    # yaml-language-server: $schema=./shippable.schema.json
    """
    from controller.core import schema as schemas

    emit_json(schemas.build_schema())


@main.command(cls=HomeCommand, short_help="What a push would do, before it is made.")
@home_option
@click.argument("rev", required=False)
@click.option("--work", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Plan the working tree of this clone (uncommitted and new files too), "
              "against HOME's state or, without HOME, the clone's origin/state.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plan(home: Path | None, rev: str | None, work: Path | None, as_json: bool) -> None:
    """Print what pushing REV (default: the config branch) or a clone's working tree
    (--work) does: problems at file:line:col, new versions, the jobs that will run and why,
    trigger and approval files accepted or refused. Does nothing; exits 1 on errors.

    The same lines a push shows as `remote:`. As a clone's .git/hooks/pre-push it stops a
    push whose workflow has errors:

    \b
    exec gitline plan --work "$(git rev-parse --show-toplevel)"
    """
    from controller import pushanswer
    from controller.core import pushwords

    if work is not None and rev is not None:
        raise click.UsageError("give REV or --work, not both")
    if work is not None:
        pushed, reject = _plan_work(home, work)
    else:
        from controller.core.errors import NotFound
        from controller.service.repos import open_repos

        settings = load_settings(home)
        # pygit2's: plan reads commits, diffs and trees the cat-file readers do not
        config, store = open_repos(settings)
        try:
            new = config.resolve(rev or settings.branch)
        except KeyError as err:
            raise NotFound(f"no commit {rev or settings.branch!r} in {settings.repo_path}"
                           ) from err
        old = store.read_snapshot().processed_commit
        pushed = pushanswer.plan_commit(config, store, old, new, home=settings.home,
                                        settings=settings)
        reject = settings.reject_invalid
    heads = _source_heads(settings if work is None else None, config if work is None else None)
    if as_json:
        emit_json({**pushwords.as_json(pushed, reject_invalid=reject),
                   **({"sources": heads} if heads else {})})
    else:
        if heads:  # the other repositories of the subscription load at their heads
            click.echo("gitline: with " + ", ".join(f"source {n} at {c[:7] or '(empty)'}"
                                                  for n, c in heads.items()))
        click.echo("\n".join(pushwords.render(pushed, reject_invalid=reject)))
    if pushed.errors:
        raise click.exceptions.Exit(1)


def _source_heads(settings: Settings | None, config: object) -> dict[str, str]:
    """The head of each other source of the subscription ({} without any)."""
    from controller.store.subscription import open_like

    if settings is None or not settings.sources:
        return {}
    sub = open_like(settings, config)
    try:
        return sub.heads()
    finally:
        sub.close()


def _plan_work(home: Path | None, work: Path) -> tuple[PushPlan, bool]:
    """The plan of a clone's working tree: (PushPlan, reject_invalid)."""
    from controller import pushanswer
    from controller.store.configrepo import ConfigRepo
    from controller.store.gitstate import GitStateStore
    from controller.store.worktree import WorkTreeError, commit_worktree

    settings = load_settings(home) if home is not None else None
    branch = settings.branch if settings else "main"
    try:
        wc = commit_worktree(work, branch)
    except WorkTreeError as err:
        raise click.ClickException(str(err)) from err
    if settings is not None:
        store = GitStateStore(settings.repo_path, settings.state_branch)
    else:
        store = GitStateStore(wc.git_dir, ref="refs/remotes/origin/state")
        if not store.read_snapshot().tip:
            click.echo("gitline: no origin/state in this clone (git fetch origin state): "
                       "planned as if nothing had run yet", err=True)
    config = ConfigRepo(wc.git_dir, branch)
    pushed = pushanswer.plan_commit(config, store, wc.base, wc.commit,
                                    home=settings.home if settings else None, settings=settings)
    return pushed, settings.reject_invalid if settings else False


@main.command(short_help="Draw the workflow (DOT or Mermaid).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default="dot",
              show_default=True, help="Graphviz DOT or a Mermaid flowchart.")
def graph(paths: tuple[Path, ...], fmt: str) -> None:
    """Print the resources, jobs and edges of PATHS; switch: off edges are dotted.

    A workflow that does not load prints its errors and exits 1.
    """
    from controller.core import graph as graphs
    from controller.core import loader

    files, sources = _read_subscription(paths)
    if not files:
        raise click.ClickException(f"no workflow file in {', '.join(map(str, paths))}")
    wf = loader.load_workflow(files, sources=frozenset(list(sources)[1:]),
                              main_name=_main_name(paths, sources))
    if wf.fatal or (wf.errors and not wf.jobs and not wf.resources):
        for p in sorted(wf.errors, key=_where):
            click.echo(str(p), err=True)
        raise click.ClickException("the workflow does not load; nothing to draw")
    if len(sources) > 1:  # which folder each source is (its objects' files say SOURCE:)
        mark = "//" if fmt == "dot" else "%%"
        click.echo("".join(f"{mark} source {n}: {f}\n" for n, f in sources.items()), nl=False)
    click.echo(graphs.render_dot(wf) if fmt == "dot" else graphs.render_mermaid(wf), nl=False)


@main.command(short_help="Shell completion script (bash, zsh or fish).")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the completion script of SHELL; job and resource names complete too.

    bash: eval "$(gitline completion bash)" in ~/.bashrc; zsh: the same in ~/.zshrc;
    fish: gitline completion fish > ~/.config/fish/completions/gitline.fish
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None  # the Choice above names only shells click knows
    click.echo(cls(main, {}, "gitline", "_GITLINE_COMPLETE").source())


def _where(p: Problem) -> tuple[str, int, int]:
    return (p.location.path, p.location.line, p.location.col)


def _not_a_home(paths: tuple[Path, ...]) -> None:
    """A Gitline HOME is not a folder of workflow files (its gitline.yml is settings, its
    workflow is in config.git): say where to look instead of reading it as one."""
    from controller.store.repoinit import REPO_DIR

    for path in paths:
        if path.is_dir() and (path / "gitline.yml").is_file() and \
                (path / REPO_DIR / "HEAD").is_file():
            raise click.ClickException(
                f"{path} is a Gitline home: its workflow is in {path / REPO_DIR}. See what "
                f"runs with `gitline status {path}`, or check a clone: `git clone "
                f"{path / REPO_DIR} work && gitline validate work`")


def _main_name(paths: tuple[Path, ...], sources: dict[str, Path]) -> str:
    """The main repository's name (its `<repo>_runCI`): the first folder's, as Shippable
    named a repository's CI job after it."""
    from controller.core import sourcenames
    from controller.core.subscription import folder_source_name

    if sources:
        return next(iter(sources))
    folders = [p for p in paths if p.is_dir()]
    name = folder_source_name(str(folders[0].resolve())) if folders else ""
    return name if sourcenames.is_source_name(name) else sourcenames.DEFAULT_MAIN_NAME


def _read_subscription(paths: tuple[Path, ...]) -> tuple[list[tuple[str, bytes]],
                                                         dict[str, Path]]:
    """The files of PATHS and, when they are several folders, one source per folder
    ({name: folder}, the main one first); else {} and the files as _read_files has them."""
    from controller.core import sourcenames
    from controller.core.subscription import check_source_name, folder_source_name

    folders = [p for p in paths if p.is_dir()]
    if len(folders) < 2:
        return _read_files(paths), {}
    sources: dict[str, Path] = {}
    for folder in folders:
        name = folder_source_name(str(folder.resolve()))
        try:
            check_source_name(name, main_name="")
        except ValueError as err:
            raise click.ClickException(f"{folder}: {err}") from err
        if name in sources:
            raise click.ClickException(f"{folder} and {sources[name]} are both source {name}")
        sources[name] = folder
    files = _read_files(tuple(p for p in paths if not p.is_dir()) + (folders[0],))
    for name, folder in list(sources.items())[1:]:
        files += [(sourcenames.join(name, path[len(str(folder)):].lstrip("/")), data)
                  for path, data in _read_files((folder,))]
    return files, sources


def _read_files(paths: tuple[Path, ...]) -> list[tuple[str, bytes]]:
    from controller.core import loader

    files: list[tuple[str, bytes]] = []
    for path in paths:
        if path.is_file():
            files.append((str(path), path.read_bytes()))
            continue
        for f in sorted(path.rglob("*")):
            rel = f.relative_to(path).as_posix()
            if f.is_file() and not f.is_symlink() and ".git/" not in f"{rel}/" \
                    and loader.is_workflow_file(rel):
                files.append((str(f), f.read_bytes()))
    return files
