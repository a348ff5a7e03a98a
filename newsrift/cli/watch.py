"""``newsrift watch add|list|remove``: watchlists (saved searches) that decide which alerts reach people."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from newsrift.errors import NewsriftError
from newsrift.settings import get_settings
from newsrift.stages.alerts.watchlist import Watch, add_watch, load_watches, remove_watch

watch_app = typer.Typer(help="Watchlists: only alerts matching a watch are delivered (all, when none exists).",
                        no_args_is_help=True)


@watch_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for the watch.")],
    entity: Annotated[list[str], typer.Option("--entity", "-e", help="Speaker or entity (aliases fold).")] = [],  # noqa: B006
    keyword: Annotated[list[str], typer.Option("--keyword", "-k", help="Word in the topic or quotes.")] = [],  # noqa: B006
    outlet: Annotated[list[str], typer.Option("--outlet", "-o", help="Outlet id carrying a side.")] = [],  # noqa: B006
    kind: Annotated[list[str], typer.Option("--kind", help="numeric, polarity, attribution, non_confirmation, other.")]
    = [],  # noqa: B006
    min_confidence: Annotated[float, typer.Option(help="Only disputes at least this confident (0-1).")] = 0.0,
    notify: Annotated[list[str], typer.Option("--notify", help="Sink names: webhook, email; default all.")] = [],  # noqa: B006
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a watch of the same name.")] = False,
) -> None:
    """Add a watch (--replace to overwrite one of the same name)."""
    path = get_settings().watchlist
    try:
        watch = Watch(name=name, entities=tuple(entity), keywords=tuple(keyword), outlets=tuple(outlet),
                      kinds=tuple(kind), min_confidence=min_confidence, notify=tuple(notify))
        add_watch(path, watch, replace=replace)
    except NewsriftError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
    typer.echo(f"watch {name!r} saved in {path}")


@watch_app.command("list")
def list_() -> None:
    """List the watches."""
    try:
        watches = load_watches(get_settings().watchlist)
    except NewsriftError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
    if not watches:
        typer.echo("no watches: every alert goes to every configured sink")
    for w in watches:
        typer.echo(json.dumps(w.to_json(), ensure_ascii=False))


@watch_app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The watch to remove.")]) -> None:
    """Remove a watch by name."""
    try:
        removed = remove_watch(get_settings().watchlist, name)
    except NewsriftError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from e
    if not removed:
        typer.echo(f"no watch named {name!r}")
        raise typer.Exit(1)
    typer.echo(f"watch {name!r} removed")
