"""`gitline token`: the tokens of `gitline serve`'s HTTP side."""

from __future__ import annotations

from pathlib import Path

import click

from controller.cli.base import HomeCommand, emit_json, home_option, main, need_home


@main.group(short_help="API and git-over-HTTP tokens.")
def token() -> None:
    """Tokens for `gitline serve`'s HTTP side: git clone/push and the API (basic auth)."""


@token.command("add", cls=HomeCommand, short_help="Make a token (printed once).")
@home_option
@click.argument("name")
@click.option("--scope", "scopes", default="read,push,trigger", show_default=True,
              help="Comma-separated: read (clone, fetch, GET), push, trigger (API), approve "
              "(approval commits pushed with it count), admin (tags; implies all), worker "
              "(a gitline worker fetching a run's big input files).")
@click.option("--email", default="", help="The approver this token speaks for "
              "(matched against requiresApproval.approvers).")
def token_add(home: Path | None, name: str, scopes: str, email: str) -> None:
    """Make a token for NAME; only the SHA-256 of its secret is kept, in HOME/tokens.yml."""
    from controller.server.auth import TokenError, TokenStore

    try:
        value = TokenStore(need_home(home)).add(name, scopes, email)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(value)
    click.echo(f"token for {name}: use it as the password, e.g. "
               f"git clone http://{name}:<token>@HOST:PORT/config.git", err=True)


@token.command("remove", cls=HomeCommand, short_help="Revoke a token.")
@home_option
@click.argument("name")
def token_remove(home: Path | None, name: str) -> None:
    """Revoke NAME's token; requests with it are refused at once."""
    from controller.server.auth import TokenError, TokenStore

    try:
        TokenStore(need_home(home)).remove(name)
    except TokenError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"removed the token of {name}")


@token.command("list", cls=HomeCommand, short_help="Names of the tokens.")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def token_list(home: Path | None, as_json: bool) -> None:
    """Print each token's name, when it was made, scopes and email (never the token)."""
    from controller.server.auth import TokenStore

    entries = TokenStore(need_home(home)).entries()
    if as_json:
        emit_json([{"name": n, "created": e["created"], "scopes": list(e["scopes"]),
                     "email": e["email"], "legacy": bool(e["legacy"])}
                    for n, e in entries.items()])
        return
    for name, e in entries.items():
        legacy = "\tlegacy: re-issue it" if e["legacy"] else ""
        click.echo(f"{name}\t{e['created']}\t{','.join(e['scopes'])}\t{e['email'] or '-'}"
                   f"{legacy}")
