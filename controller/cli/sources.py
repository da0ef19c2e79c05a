"""The repositories of a subscription: `gitline repo add HOME NAME`, `gitline repo list`."""

from __future__ import annotations

from pathlib import Path

import click

from controller.cli.base import HOME_ARG, load_settings, main


@main.group(short_help="The repositories of the subscription (sources).")
def repo() -> None:
    """Repositories besides HOME/config.git whose workflow files load with it as one
    workflow (gitline.yml `sources:`)."""


@repo.command("add", short_help="Create HOME/repos/NAME.git, served by Gitline.")
@HOME_ARG
@click.argument("name")
def add(home: Path, name: str) -> None:
    """Create HOME/repos/NAME.git (bare, pushable by path and over HTTP at /repos/NAME.git
    with the same tokens) and list NAME under `sources:` in HOME/gitline.yml; a running
    controller takes it in at once."""
    from controller.core.subscription import check_source_name
    from controller.store.repoinit import add_source_setting, init_source

    settings = load_settings(home)
    try:
        check_source_name(name, settings.name)
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    repo_path = init_source(settings.home, name, settings.branch)
    added = add_source_setting(settings.home, name)
    load_settings(home)  # what was written still loads (else say so now)
    click.echo(f"{'Created' if added else 'Refreshed'} {repo_path} (source {name})")
    from controller.answerclient import ask

    answer = ask(str(settings.home), {"ask": "sources"}, timeout=15.0)
    if answer is not None and answer.get("taken"):
        click.echo(f"The running controller serves it (over HTTP at /repos/{name}.git).")
    elif answer is not None:
        click.echo("The running controller has not taken it in yet: it does at its next pass.")
    click.echo(f"Next: git clone {repo_path}, add shippable.yml, commit, push to "
               f"{settings.branch}.")


@repo.command("list", short_help="The sources and their heads.")
@HOME_ARG
def list_sources(home: Path) -> None:
    """Each source: its name, where it comes from, its repository and branch, and where
    its CI runs post commit statuses (gitline.yml's commit_status)."""
    from controller.core import sourcenames
    from controller.core.subscription import status_targets

    settings = load_settings(home)
    targets = status_targets(settings.commit_status, settings.sources, settings.upstream)

    def statuses(name: str) -> str:
        t = targets.get(name)
        return f"\tstatuses to {t.repo} ({t.integration})" if t else ""
    click.echo(f"{settings.name}\tmain\t{settings.repo_path}\t{settings.branch}"
               f"{statuses(sourcenames.MAIN)}")
    for s in settings.sources:
        origin = f"follows {s.upstream}" if s.upstream else "served"
        click.echo(f"{s.name}\t{origin}\t{settings.source_path(s.name)}\t"
                   f"{s.branch or settings.branch}{statuses(s.name)}")
