"""``newsrift ingest`` and ``newsrift feeds``: mounted on the main CLI by ``register``; no Faust here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from newsrift.connectors.notices import Notify, sink_notifier
from newsrift.connectors.poller import PollConfig, RegistryWatcher, Summary, poll_once, run_forever
from newsrift.connectors.registry import (
    Feed,
    FeedEntry,
    Outlet,
    Registry,
    check_feed_url,
    check_outlet_id,
    export_opml,
    import_opml,
    load_registry,
    resolve_url,
    save_registry,
)
from newsrift.connectors.sinks import ArticleSink, JsonlSink, KafkaSink
from newsrift.connectors.state import StateStore, jsonl_state_dir, kafka_state_dir, migrate_legacy_state
from newsrift.errors import ConfigError, NewsriftError

__all__ = ["DEFAULT_REGISTRY", "default_state_dir", "default_topic", "feeds_app", "ingest", "register",
           "state_dir_for"]

DEFAULT_REGISTRY = Path("seeds/outlets.toml")
feeds_app = typer.Typer(help="Outlets and feeds (the registry is a TOML file).", no_args_is_help=True)


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def default_state_dir() -> Path:
    """``NEWSRIFT_HOME``/state/connectors: like the worker's state, not relative to the current directory."""
    from newsrift.settings import get_settings

    return get_settings().home / "state" / "connectors"


def default_topic() -> str:
    """The raw-article topic with ``NEWSRIFT_TOPIC_PREFIX``, as the worker, ``topics`` and ``lag`` name it."""
    from newsrift.settings import get_settings
    from newsrift.topics import RAW_ARTICLES

    return get_settings().topic(RAW_ARTICLES)


def state_dir_for(state_dir: Path, topic: str | None, to_jsonl: Path | None) -> Path:
    """The folder of one destination's feed state under ``state_dir`` (``kafka/<topic>/`` or
    ``jsonl/<name>-<hash>/``): what one destination has received says nothing about another. State files left
    directly in ``state_dir`` by older versions move first to the folder of the topic those versions published
    to: the raw topic without NEWSRIFT_TOPIC_PREFIX, which they ignored (a prefixed setup then publishes its
    feeds' current items once to its own topic, rather than skip them as seen). ``ConfigError`` for a topic name
    Kafka would refuse; ``OSError`` when the folder cannot be used."""
    from newsrift.topics import RAW_ARTICLES

    try:
        default = kafka_state_dir(state_dir, RAW_ARTICLES)
        dest = (jsonl_state_dir(state_dir, to_jsonl) if to_jsonl
                else kafka_state_dir(state_dir, topic or default_topic()))
    except ValueError as e:
        raise ConfigError(f"--topic: {e}") from e
    moved = migrate_legacy_state(state_dir, default)
    if moved:
        typer.echo(f"moved {moved} feed state files of earlier runs from {state_dir} to {default}", err=True)
    return dest


def _open_state(state_dir: Path, topic: str | None, to_jsonl: Path | None) -> StateStore:
    """The feed state of one destination; a folder that cannot be used is a ``ConfigError`` naming it."""
    try:
        return StateStore(state_dir_for(state_dir, topic, to_jsonl))
    except OSError as e:
        raise ConfigError(f"{state_dir}: cannot use as the state directory: {e.strerror or e}") from e


def _outlet_from_url(url: str) -> str:
    host = urlsplit(url).hostname if "://" in url and not url.startswith("file:") else None
    if host:
        return host.removeprefix("www.")
    return Path(urlsplit(url).path if url.startswith("file:") else url).stem or "local"


def _feeds(registry: Path, feed_urls: list[str], opml: Path | None) -> list[Feed]:
    """--feed and --opml replace the registry for this run; without them the registry is polled.

    A --feed that the registry lists keeps its outlet (id, language, interval, full text), so polling one known
    feed by hand gives the same articles as the long-running poller.
    """
    if not feed_urls and opml is None:
        return load_registry(registry).feeds()
    known: dict[str, Feed] = {}
    if feed_urls and registry.exists():
        known = {f.url: f for f in load_registry(registry).feeds()}
    feeds: list[Feed] = []
    for u in feed_urls:
        url = resolve_url(u, Path.cwd())
        feeds.append(known.get(url) or Feed(url, outlet_id=_outlet_from_url(u)))
    if opml is not None:
        base = opml.parent.resolve()
        feeds += [Feed(resolve_url(o.feeds[0].url, base), outlet_id=o.id, language=o.language)
                  for o in import_opml(opml)]
    return feeds


def _install_stop(stop: asyncio.Event) -> None:
    # SIGTERM (systemd, docker stop) ends the loop between polls, like Ctrl-C: state is saved after every poll,
    # so stopping never loses an acknowledged item nor marks an unacknowledged one seen.
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)


async def _run_until_stopped(feeds: list[Feed], store: StateStore, sink: ArticleSink, cfg: PollConfig,
                             watcher: RegistryWatcher | None = None, notify: Notify | None = None) -> None:
    stop = asyncio.Event()
    _install_stop(stop)
    await run_forever(feeds, store, sink, cfg, stop=stop, reload=watcher, notify=notify)


def _poll_config(concurrency: int, per_host: int, per_host_interval: float
                 ) -> tuple[PollConfig, Notify | None, Callable[[], None]]:
    """The poller's settings, with the User-Agent, dead-feed and Crawl-delay limits from NEWSRIFT_*; a notifier
    over the alert sinks (webhook, e-mail) when any is configured, and what closes them. ``ConfigError`` when a
    setting is invalid."""
    from newsrift.settings import get_settings
    from newsrift.stages.alerts.runtime import build_sinks

    settings = get_settings()
    sinks = build_sinks(settings)
    cfg = PollConfig(concurrency=concurrency, per_host=per_host, per_host_interval=per_host_interval,
                     user_agent=settings.user_agent, dead_after=settings.feed_dead_after_seconds,
                     max_crawl_delay=settings.max_crawl_delay_seconds)

    def close() -> None:
        for sink in sinks:
            sink.close()

    return cfg, (sink_notifier(sinks) if sinks else None), close


def ingest(
    once: Annotated[bool, typer.Option("--once", help="Poll every feed once, print a summary line, and exit.")]
    = False,
    feed: Annotated[list[str] | None, typer.Option(
        "--feed", help="A feed URL, file:// URL or local path (repeatable); replaces the registry for this run.")]
    = None,
    opml: Annotated[Path | None, typer.Option("--opml", help="Poll the feeds of this OPML file.")] = None,
    to_jsonl: Annotated[Path | None, typer.Option(
        "--to-jsonl", help="Append raw articles to this JSONL file instead of publishing to Kafka.")] = None,
    registry: Annotated[Path, typer.Option("--registry", help="Outlets and feeds (TOML).")] = DEFAULT_REGISTRY,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Feed state (validators, failures, seen items), kept across runs, one folder per "
        "destination (kafka/<topic>/, jsonl/<file>-<hash>/). Default: $NEWSRIFT_HOME/state/connectors.")] = None,
    bootstrap: Annotated[str | None, typer.Option(
        "--bootstrap", help="Kafka bootstrap servers (default: env NEWSRIFT_KAFKA_BOOTSTRAP, else 127.0.0.1:9092).")]
    = None,
    topic: Annotated[str | None, typer.Option(
        "--topic", help="Raw-article topic (default: news.articles.raw.v1 with NEWSRIFT_TOPIC_PREFIX).")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Feeds fetched at once, in all.")] = 32,
    per_host: Annotated[int, typer.Option("--per-host", min=1, help="Requests in flight to one host.")] = 2,
    per_host_interval: Annotated[float, typer.Option(
        "--per-host-interval", min=0.0, help="Seconds between the starts of two requests to one host.")] = 1.0,
) -> None:
    """Poll feeds and publish new or edited items as raw articles (Kafka, or JSONL with --to-jsonl).

    Without --once it runs until SIGTERM or Ctrl-C, each feed on its own schedule, and picks up changes to the
    registry file (feeds added or removed) within seconds.

    With --once it prints one summary line and exits 1 only when no feed at all could be processed.

    Feed state is kept per destination: a trial run into a JSONL file does not make a later Kafka run skip items.
    """
    logging.basicConfig(level=os.environ.get("NEWSRIFT_LOG_LEVEL", "WARNING"), format="%(levelname)s %(message)s")
    # The long-running poller follows the registry file (feeds add/remove, edits); not --feed/--opml runs. The
    # watcher takes the file's signature before the first read, so a change in between is picked up, not missed.
    watcher = RegistryWatcher(registry) if not once and not feed and opml is None else None
    try:
        topic = topic or default_topic()
        feeds = _feeds(registry, feed or [], opml)
        store = _open_state(state_dir or default_state_dir(), topic, to_jsonl)
        cfg, notify, close_notices = _poll_config(concurrency, per_host, per_host_interval)
        sink: ArticleSink = JsonlSink(to_jsonl) if to_jsonl else KafkaSink(
            bootstrap or os.environ.get("NEWSRIFT_KAFKA_BOOTSTRAP", "127.0.0.1:9092"), topic)
    except NewsriftError as e:
        _fail(str(e))
        return
    if not feeds:
        sink.close()
        close_notices()
        _fail("no feeds to poll (empty registry, or an OPML file without feeds)")
    try:
        if not once:
            typer.echo(f"polling {len(feeds)} feeds; SIGTERM or Ctrl-C to stop", err=True)
            asyncio.run(_run_until_stopped(feeds, store, sink, cfg, watcher, notify))
            return
        summary: Summary = asyncio.run(poll_once(feeds, store, sink, cfg, notify))
    except KeyboardInterrupt:
        return
    finally:
        sink.close()
        close_notices()
    for err in summary.errors[:20]:
        typer.echo(f"  {err}", err=True)
    for moved in summary.moved:  # the registry still names the old URL: worth telling whoever runs this
        typer.echo(f"  {moved}", err=True)
    for notice in summary.notices:
        typer.echo(f"  {notice.subject}", err=True)
    typer.echo(summary.line())
    # Exit 1 only when nothing at all could be processed: one dead feed among many is routine, not a failure.
    if summary.processed == 0:
        raise typer.Exit(1)


def _iso(unix: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(registry: Path) -> Registry:
    try:
        return load_registry(registry)
    except NewsriftError as e:
        _fail(str(e))
        raise  # unreachable: _fail exits


def _load_or_empty(registry: Path) -> Registry:
    return _load(registry) if registry.exists() else Registry((), registry.parent.resolve())


def _save(reg: Registry, registry: Path) -> str:
    """Save, or exit with a one-line error; returns a note for the output when comments were dropped."""
    try:
        dropped = save_registry(reg, registry)
    except OSError as e:
        hint = " (run from the repository, or give --registry)" if not registry.parent.resolve().exists() else ""
        _fail(f"cannot write the registry {registry}: {e.strerror or e}{hint}")
        raise  # unreachable: _fail exits
    if not dropped:
        return ""
    return (f" (note: {registry} was rewritten; its leading comment block is kept, {dropped} other line(s) with "
            "comments are not)")


RegistryOpt = Annotated[Path, typer.Option("--registry", help="Registry file (TOML).")]
_COMMENTS_NOTE = ("The registry file is rewritten: its leading comment block is kept, comments further down are "
                  "not.")


@feeds_app.command("list")
def feeds_list(
    registry: RegistryOpt = DEFAULT_REGISTRY,
    state_dir: Annotated[Path | None, typer.Option(
        "--state-dir", help="Also show each feed's health from this state directory (failing feeds first).")]
    = None,
    topic: Annotated[str | None, typer.Option(
        "--topic", help="With --state-dir: the health of runs into this Kafka topic (default: the raw topic, "
        "news.articles.raw.v1 with NEWSRIFT_TOPIC_PREFIX).")] = None,
    to_jsonl: Annotated[Path | None, typer.Option(
        "--to-jsonl", help="With --state-dir: the health of runs into this JSONL file instead.")] = None,
) -> None:
    """List outlets and their feeds; with --state-dir, each feed's health (ok, failing, dead, disallowed by
    robots.txt, never-polled), last success, failures and requests made in all (state is kept per destination: the
    Kafka raw topic unless --topic or --to-jsonl names another)."""
    reg = _load(registry)
    if state_dir is None:
        for o in reg.outlets:
            typer.echo(f"{o.id}\t{o.name}\t{', '.join(o.feed_urls)}")
        return
    try:
        store = _open_state(state_dir, topic, to_jsonl)
    except NewsriftError as e:
        _fail(str(e))
        return
    rows = []
    for f in reg.feeds():
        st = store.load(f.url)
        health = ("dead" if st.dead_since is not None else "failing" if st.failures
                  else "disallowed" if st.robots == "disallowed" else "ok" if st.last_success else "never-polled")
        rows.append((-st.failures, f.outlet_id, f"{f.outlet_id}\t{f.url}\t{health}\tfailures={st.failures}\t"
                     f"last_success={st.last_success or '-'}\tlast_error={(st.last_error or '-')[:120]}\t"
                     f"requests={st.requests}\trequest_failures={st.request_failures}"
                     + (f"\tdead_since={_iso(st.dead_since)}" if st.dead_since is not None else "")
                     + (f"\trobots={st.robots}" if st.robots else "")
                     + (f"\tmoved_to={st.moved_to}" if st.moved_to else "")))
    for _, _, line in sorted(rows):
        typer.echo(line)


@feeds_app.command("add", help="Add a feed to an outlet (creating the outlet when needed).\n\n" + _COMMENTS_NOTE)
def feeds_add(
    outlet_id: Annotated[str, typer.Argument(help="Outlet id (new or existing): letters, digits, '.', '_', '-'.")],
    url: Annotated[str, typer.Argument(
        help="Feed URL (http, https, file://), or an existing file's path relative to the registry's folder.")],
    name: Annotated[str | None, typer.Option(help="Outlet name (new outlets).")] = None,
    homepage: Annotated[str, typer.Option(help="Outlet homepage (new outlets).")] = "",
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en (new outlets).")] = None,
    poll_interval: Annotated[float | None, typer.Option(
        "--poll-interval", min=1, help="Seconds between polls of this feed.")] = None,
    full_text: Annotated[bool | None, typer.Option(
        "--full-text/--no-full-text", help="Fetch each article page for its main text.")] = None,
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    reg = _load_or_empty(registry)
    try:
        check_outlet_id(outlet_id)
        url = check_feed_url(url, reg.base)
    except NewsriftError as e:
        _fail(str(e))
    resolved = resolve_url(url, reg.base)
    for o in reg.outlets:
        if o.id != outlet_id and any(resolve_url(f, reg.base) == resolved for f in o.feed_urls):
            _fail(f"{url} is already a feed of outlet {o.id!r} (one feed, one outlet: remove it there first)")
    entry = FeedEntry(url, poll_interval, full_text)
    outlets = list(reg.outlets)
    for i, o in enumerate(outlets):
        if o.id == outlet_id:
            if any(resolve_url(f, reg.base) == resolved for f in o.feed_urls):
                typer.echo(f"{url} is already a feed of {outlet_id}")
                return
            outlets[i] = Outlet(o.id, o.name, o.homepage, o.language, o.poll_interval, o.full_text,
                                (*o.feeds, entry))
            break
    else:
        outlets.append(Outlet(outlet_id, name or outlet_id, homepage, language=language, feeds=(entry,)))
    note = _save(Registry(tuple(outlets), reg.base), registry)
    typer.echo(f"added {url} to {outlet_id}{note}")


@feeds_app.command("remove", help="Remove a feed.\n\n" + _COMMENTS_NOTE)
def feeds_remove(
    url: Annotated[str, typer.Argument(help="Feed URL to remove (an outlet left without feeds goes too).")],
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    reg = _load(registry)
    outlets = []
    found = False
    for o in reg.outlets:
        feeds = tuple(f for f in o.feeds if f.url != url)
        found |= len(feeds) != len(o.feeds)
        if feeds:
            outlets.append(Outlet(o.id, o.name, o.homepage, o.language, o.poll_interval, o.full_text, feeds))
    if not found:
        _fail(f"no feed {url} in {registry}")
    note = _save(Registry(tuple(outlets), reg.base), registry)
    typer.echo(f"removed {url}{note}")


@feeds_app.command("import-opml", help="Add every feed of an OPML file as an outlet; feeds already in the registry "
                   "are left alone. Outlines without a usable feed URL are reported and skipped; a file with no "
                   "feed at all is an error and changes nothing.\n\n" + _COMMENTS_NOTE)
def feeds_import(
    opml: Annotated[Path, typer.Argument(help="OPML file (entity declarations are refused).")],
    registry: RegistryOpt = DEFAULT_REGISTRY,
) -> None:
    reg = _load_or_empty(registry)
    skipped: list[str] = []
    try:
        found = import_opml(opml, skipped)
    except NewsriftError as e:
        _fail(str(e))
        return
    for note in skipped:
        typer.echo(f"  skipped: {note}", err=True)
    known_ids = {o.id for o in reg.outlets}
    known_urls = {resolve_url(f.url, reg.base) for o in reg.outlets for f in o.feeds}
    new = [o for o in found if o.id not in known_ids and resolve_url(o.feeds[0].url, opml.parent.resolve())
           not in known_urls]
    note = _save(Registry((*reg.outlets, *new), reg.base), registry) if new else ""
    typer.echo(f"imported {len(new)} outlets ({len(found) - len(new)} already known by id or feed URL"
               + (f", {len(skipped)} outlines skipped" if skipped else "") + f"){note}")


@feeds_app.command("export-opml")
def feeds_export(registry: RegistryOpt = DEFAULT_REGISTRY) -> None:
    """Print the registry as OPML 2.0 (local paths as file:// URLs)."""
    typer.echo(export_opml(_load(registry)))


def register(app: typer.Typer) -> None:
    """Mount ``ingest`` and the ``feeds`` sub-app on the main CLI."""
    app.command("ingest")(ingest)
    app.add_typer(feeds_app, name="feeds")
