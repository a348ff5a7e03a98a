"""The ``newsrift`` command: services, ingestion, the worker, search, batch analysis and the demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from newsrift.errors import NewsriftError
from newsrift.settings import REPO_ROOT, get_settings

# Elasticsearch's default index.max_result_window: a larger size is refused by the server.
MAX_SEARCH_SIZE = 10000


class _OneLineErrors(TyperGroup):
    """Any NewsriftError a command lets through (bad NEWSRIFT_* settings, say) is one line on stderr and exit 1,
    never a traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context; typer vendors its own click
        try:
            return super().invoke(ctx)
        except NewsriftError as e:
            typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None


app = typer.Typer(help="newsrift: find where the news disagrees with itself.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=_OneLineErrors)
services_app = typer.Typer(help="Run the local Kafka broker and Elasticsearch node (127.0.0.1).", no_args_is_help=True)
app.add_typer(services_app, name="services")


def _die(e: Exception) -> None:
    typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


# ------------------------------------------------------------------------------------------------------ services


@services_app.command("up")
def services_up() -> None:
    """Fetch (first time, through Maven), start and wait for Kafka and Elasticsearch; harmless when running."""
    from newsrift.cli import services

    try:
        infos = services.up(get_settings())
    except NewsriftError as e:
        _die(e)
    for info in infos:
        typer.echo(json.dumps(info, indent=2, default=str))


@services_app.command("down")
def services_down(
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the services' data.")] = False,
) -> None:
    """Stop exactly the processes `services up` started (by pid); data stays unless --purge."""
    from newsrift.cli import services

    for name, stopped in services.down(get_settings(), purge=purge):
        typer.echo(f"{name}: {'stopped' if stopped else 'was not running'}{' (data purged)' if purge else ''}")


@services_app.command("status")
def services_status() -> None:
    """Say whether each service runs and answers; exit 1 when one does not."""
    from newsrift.cli import services

    statuses = services.status(get_settings())
    for st in statuses:
        typer.echo(f"{st.name}: {'up' if st.healthy else 'DOWN'} pid={st.pid} {st.detail}")
    if not all(st.healthy for st in statuses):
        raise typer.Exit(1)


@app.command("topics")
def topics_cmd() -> None:
    """Create every topic (and its .dlq twin) with the configured partition counts."""
    from newsrift.topics import all_topic_names, ensure_topics

    try:
        created = ensure_topics(get_settings())
    except NewsriftError as e:
        _die(e)
    for name, parts in all_topic_names(get_settings()):
        typer.echo(f"{name} partitions={parts}{' (created)' if name in created else ''}")


# -------------------------------------------------------------------------------------------------------- worker


@app.command("worker", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(
    loglevel: Annotated[str, typer.Option(help="Log level of the worker.")] = "info",
) -> None:
    """Start the Faust worker (all agents); topics are created first."""
    from newsrift.topics import ensure_topics

    try:
        ensure_topics(get_settings())
    except NewsriftError as e:
        _die(e)
    from faust import Worker

    from newsrift.runtime.logfilter import install_repeat_filter
    from newsrift.runtime.worker import build

    faust_app = build(get_settings()).app
    faust_app.conf.datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust makes the directory, not its parents
    install_repeat_filter()  # a broker outage otherwise logs thousands of identical lines a second
    Worker(faust_app, loglevel=loglevel).execute_from_commandline()


@app.command("lag")
def lag_cmd() -> None:
    """How many messages each stage still has to process (consumer lag; ``<topic>@index`` is the indexer).

    A topic that does not exist is printed as "missing" (run `newsrift topics`), and the exit code is then 1.
    """
    from newsrift.runtime.lag import topic_lag

    try:
        lag = topic_lag(get_settings())
    except NewsriftError as e:
        _die(e)
    for topic, n in lag.items():
        typer.echo(f"{topic} lag={n}" if n is not None else f"{topic} missing")
    if any(n is None for n in lag.values()):
        raise typer.Exit(1)


# -------------------------------------------------------------------------------------------------------- search


@app.command("search", context_settings={"ignore_unknown_options": True})
def search(
    query: Annotated[str, typer.Argument(help="Words to look for (Elasticsearch simple query syntax).")],
    kind: Annotated[str, typer.Option(help="articles, claims, events, disputes or alerts.")] = "articles",
    size: Annotated[int, typer.Option(help=f"How many hits to print (1-{MAX_SEARCH_SIZE}).")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print raw documents as JSON lines.")] = False,
) -> None:
    """Search what the pipeline indexed."""
    from newsrift.cli.search import run_search

    if not 1 <= size <= MAX_SEARCH_SIZE:
        _die(ValueError(f"--size must be between 1 and {MAX_SEARCH_SIZE} (Elasticsearch's default "
                        f"index.max_result_window), not {size}"))
    try:
        hits = run_search(get_settings(), query, kind, size)
    except NewsriftError as e:
        _die(e)
    if not hits:
        typer.echo("no match")
        raise typer.Exit(0)
    for hit in hits:
        typer.echo(json.dumps(hit, ensure_ascii=False) if as_json else _format_hit(kind, hit))


def _format_hit(kind: str, d: dict[str, Any]) -> str:
    if kind == "disputes":
        lines = [f"[{d.get('kind')}] {d.get('topic')}  (confidence {d.get('confidence')}, {d.get('status')})"]
        for s in d.get("sides", []):
            lines.append(f"   - {s.get('speaker')} ({', '.join(s.get('outlets') or [])}): \"{s.get('quote')}\"")
        return "\n".join(lines)
    if kind == "claims":
        return f"{d.get('speaker')} [{d.get('polarity')}] ({d.get('outlet_id')}): {d.get('text')}"
    if kind == "events":
        return f"{d.get('event_id')}  {d.get('title')}  ({d.get('article_count')} articles)"
    return f"{d.get('published')}  {d.get('outlet_id')}: {d.get('title')}  <{d.get('url')}>"


# ------------------------------------------------------------------------------------------------------- analyze


@app.command("analyze")
def analyze(
    infile: Annotated[Path, typer.Argument(help="JSONL of articles: id, outlet, url, title, published, text.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write article/claim/event/dispute lines.")],
) -> None:
    """Run the whole core over a file, without services (same logic as the streaming pipeline).

    Lines that cannot be used (not JSON, not UTF-8, missing fields) go to <out>.rejected.jsonl with their line
    number and reason; the rest is processed.
    """
    from newsrift.runtime.analyze import analyze_file, rejected_path

    try:
        counts = analyze_file(infile, out)
    except NewsriftError as e:
        _die(e)
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
    if counts.get("rejected"):
        typer.echo(f"{counts['rejected']} input lines rejected, with the reasons, in {rejected_path(out)}")


# ---------------------------------------------------------------------------------------------------------- demo


@app.command("demo")
def demo(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the seeds to be indexed.")] = 240.0,
    keep_worker: Annotated[bool, typer.Option(help="Leave the worker running afterwards.")] = False,
) -> None:
    """Services up, topics, worker, seeds ingested; prints what was indexed and the disputes found."""
    from newsrift.cli.demo import run_demo

    try:
        code = run_demo(get_settings(), timeout=timeout, keep_worker=keep_worker)
    except NewsriftError as e:
        _die(e)
    raise typer.Exit(code)


def _register_optional() -> None:
    """Sub-commands whose code lives in their own packages (connectors, alerts)."""
    from newsrift.cli.ingest import register as register_connectors

    register_connectors(app)
    from newsrift.cli.watch import watch_app

    app.add_typer(watch_app, name="watch")
    from newsrift.cli.dlq import dlq_app

    app.add_typer(dlq_app, name="dlq")


_register_optional()


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.path.insert(0, str(REPO_ROOT))
    app()


if __name__ == "__main__":
    main()
