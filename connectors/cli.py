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
    """--feed and --opml replace the registry for this run; without them the registry is polled."""
    feeds: list[Feed] = []
    if feed_urls:
        feeds += [Feed(resolve_url(u, Path.cwd()), outlet_id=_outlet_from_url(u)) for u in feed_urls]
    if opml is not None:
        feeds += [Feed(resolve_url(o.feeds[0], opml.parent.resolve()), outlet_id=o.id, language=o.language)
                  for o in import_opml(opml)]
    if not feeds and not feed_urls and opml is None:
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
    bootstrap: Annotated[str | None, typer.Option(
        "--bootstrap", help="Kafka bootstrap [default: env NEWSRIFT_KAFKA_BOOTSTRAP or 127.0.0.1:9092].")] = None,
    topic: Annotated[str, typer.Option("--topic", help="Raw-article topic.")] = "news.articles.raw.v1",
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Feeds fetched at once, in all.")] = 32,
    per_host: Annotated[int, typer.Option("--per-host", min=1, help="Requests in flight to one host.")] = 2,
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
    cfg = PollConfig(concurrency=concurrency, per_host=per_host)
    try:
        store = StateStore(state_dir)
    except OSError as e:
        sink.close()
        _fail(f"{state_dir}: cannot use as the state directory: {e.strerror or e}")
        return
    try:
        if once:
            summary: Summary = asyncio.run(poll_once(feeds, store, sink, cfg))
        else:
            typer.echo(f"polling {len(feeds)} feeds; Ctrl-C to stop", err=True)
            asyncio.run(run_forever(feeds, store, sink, cfg))
            return
    except KeyboardInterrupt:
        return
    finally:
        sink.close()
    for err in summary.errors[:20]:
        typer.echo(f"  {err}", err=True)
    typer.echo(summary.line())
    # Exit 1 only when nothing at all could be processed: one dead feed among many is routine, not a failure.
    if summary.processed == 0 and feeds:
        raise typer.Exit(1)


def _load(registry: Path) -> Registry:
    try:
        return load_registry(registry)
    except NewsriftError as e:
        _fail(str(e))
        raise  # unreachable: _fail exits


def _opml(path: Path) -> list[Outlet]:
    try:
        return import_opml(path)
    except NewsriftError as e:
        _fail(str(e))
        raise


@feeds_app.command("list")
def feeds_list(registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY) -> None:
    """List outlets and their feeds."""
    reg = _load(registry)
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
    reg = _load(registry) if registry.exists() else Registry((), registry.parent)
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
    reg = _load(registry)
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
    reg = _load(registry) if registry.exists() else Registry((), registry.parent)
    known = {o.id for o in reg.outlets}
    found = _opml(opml)
    new = [o for o in found if o.id not in known]
    save_registry(Registry((*reg.outlets, *new), reg.base), registry)
    typer.echo(f"imported {len(new)} outlets ({len(found) - len(new)} already known by id)")


@feeds_app.command("export-opml")
def feeds_export(registry: Annotated[Path, typer.Option(help="Registry file.")] = DEFAULT_REGISTRY) -> None:
    """Print the registry as OPML."""
    typer.echo(export_opml(_load(registry)))


def register(app: typer.Typer) -> None:
    """Mount ``ingest`` and the ``feeds`` sub-app on the main CLI."""
    app.command("ingest")(ingest)
    app.add_typer(feeds_app, name="feeds")
