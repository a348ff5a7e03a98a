"""``newsrift ingest`` and ``newsrift feeds``: mounted on the main CLI by ``register``; no Faust here."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from connectors.poller import PollConfig, Summary, poll_once, run_forever
from connectors.registry import (
    Feed,
    Outlet,
    Registry,
    export_opml,
    import_opml,
    load_registry,
    resolve_url,
    save_registry,
)
from connectors.sinks import JsonlSink, KafkaSink, PublishError, Sink
from connectors.state import StateStore
from pipeline.errors import NewsriftError

__all__ = ["feeds_app", "ingest", "register"]

DEFAULT_REGISTRY = Path("seeds/outlets.toml")
feeds_app = typer.Typer(help="Outlets and feeds (the registry is a TOML file).", no_args_is_help=True)


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _feeds(registry: Path, feed_urls: list[str], opml: Path | None) -> list[Feed]:
    feeds: list[Feed] = []
    if feed_urls:
        feeds += [Feed(resolve_url(u, Path.cwd()), outlet_id=_outlet_from_url(u)) for u in feed_urls]
    if opml is not None:
        feeds += [Feed(o.feeds[0], outlet_id=o.id) for o in import_opml(opml)]
    if not feeds:
        feeds = load_registry(registry).feeds()
    return feeds


def _outlet_from_url(url: str) -> str:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname
    if host:
        return host.removeprefix("www.")
    return Path(url).stem or "local"


def ingest(
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once and exit.")] = False,
    feed: Annotated[list[str], typer.Option("--feed", help="A feed URL or file (repeatable); default: the registry.")]
    = [],  # noqa: B006
    opml: Annotated[Path | None, typer.Option("--opml", help="Poll the feeds of an OPML file.")] = None,
    to_jsonl: Annotated[Path | None, typer.Option("--to-jsonl", help="Write raw articles here instead of Kafka.")]
    = None,
    registry: Annotated[Path, typer.Option("--registry", help="Outlets and feeds (TOML).")] = DEFAULT_REGISTRY,
    state_dir: Annotated[Path, typer.Option("--state-dir", help="Where feed state is kept across runs.")]
    = Path(".newsrift/state/connectors"),
    bootstrap: Annotated[str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers.")] = None,
    topic: Annotated[str, typer.Option("--topic", help="Raw-article topic.")] = "news.articles.raw.v1",
) -> None:
    """Poll feeds and publish new or edited items as raw articles (Kafka, or JSONL with --to-jsonl)."""
    logging.basicConfig(level=os.environ.get("NEWSRIFT_LOG_LEVEL", "WARNING"), format="%(levelname)s %(message)s")
    try:
        feeds = _feeds(registry, feed, opml)
        sink: Sink = JsonlSink(to_jsonl) if to_jsonl else KafkaSink(
            bootstrap or os.environ.get("NEWSRIFT_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), topic)
    except (NewsriftError, PublishError) as e:
        _fail(str(e))
        return
    store = StateStore(state_dir)
    try:
        if once:
            summary: Summary = asyncio.run(poll_once(feeds, store, sink, PollConfig()))
        else:
            typer.echo(f"polling {len(feeds)} feeds; Ctrl-C to stop")
            asyncio.run(run_forever(feeds, store, sink, PollConfig()))
            return
    except KeyboardInterrupt:
        return
    finally:
        sink.close()
    for err in summary.errors[:20]:
        typer.echo(f"  {err}", err=True)
    typer.echo(summary.line())
    if summary.ok + summary.not_modified == 0 and feeds:
        raise typer.Exit(1)


@feeds_app.command("list")
def feeds_list(registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY) -> None:
    """List outlets and their feeds."""
    try:
        reg = load_registry(registry)
    except NewsriftError as e:
        _fail(str(e))
        return
    for o in reg.outlets:
        typer.echo(f"{o.id}\t{o.name}\t{', '.join(o.feeds)}")


@feeds_app.command("add")
def feeds_add(
    outlet_id: Annotated[str, typer.Argument(help="Outlet id (new or existing).")],
    url: Annotated[str, typer.Argument(help="Feed URL or path.")],
    name: Annotated[str | None, typer.Option(help="Outlet name (new outlets).")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en.")] = None,
    registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY,
) -> None:
    """Add a feed to an outlet (creating the outlet when needed)."""
    reg = load_registry(registry) if registry.exists() else Registry((), registry.parent)
    outlets = list(reg.outlets)
    for i, o in enumerate(outlets):
        if o.id == outlet_id:
            if url in o.feeds:
                typer.echo("already there")
                return
            outlets[i] = Outlet(o.id, o.name, o.homepage, o.language, o.poll_interval, o.full_text, (*o.feeds, url))
            break
    else:
        outlets.append(Outlet(outlet_id, name or outlet_id, language=language, feeds=(url,)))
    save_registry(Registry(tuple(outlets), reg.base), registry)
    typer.echo(f"added {url} to {outlet_id}")


@feeds_app.command("remove")
def feeds_remove(
    url: Annotated[str, typer.Argument(help="Feed URL to remove (an outlet left without feeds goes too).")],
    registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY,
) -> None:
    """Remove a feed."""
    reg = load_registry(registry)
    outlets = []
    found = False
    for o in reg.outlets:
        feeds = tuple(f for f in o.feeds if f != url)
        found |= len(feeds) != len(o.feeds)
        if feeds:
            outlets.append(Outlet(o.id, o.name, o.homepage, o.language, o.poll_interval, o.full_text, feeds))
    if not found:
        _fail(f"no feed {url} in {registry}")
    save_registry(Registry(tuple(outlets), reg.base), registry)
    typer.echo(f"removed {url}")


@feeds_app.command("import-opml")
def feeds_import(
    opml: Annotated[Path, typer.Argument(help="OPML file.")],
    registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY,
) -> None:
    """Add every feed of an OPML file as an outlet."""
    reg = load_registry(registry) if registry.exists() else Registry((), registry.parent)
    known = {o.id for o in reg.outlets}
    new = [o for o in import_opml(opml) if o.id not in known]
    save_registry(Registry((*reg.outlets, *new), reg.base), registry)
    typer.echo(f"imported {len(new)} outlets")


@feeds_app.command("export-opml")
def feeds_export(registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY) -> None:
    """Print the registry as OPML."""
    typer.echo(export_opml(load_registry(registry)))


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.add_typer(feeds_app, name="feeds")
