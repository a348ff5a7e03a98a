"""The one Faust app, its topics and tables. Agents live in each stage's ``agent.py`` and stay thin."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import faust

from newsrift.settings import get_settings
from pipeline import topics as names
from pipeline.errors import NewsriftError
from pipeline.streaming import dead_letter, encode, kv, log_event, reason

log = logging.getLogger("newsrift.worker")
settings = get_settings()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store=settings.store,
    # Faust's default is "<app id>-data" in the current directory; keep worker state beside the services' instead.
    datadir=str(settings.home / "worker" / settings.app_id),
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication,
    # Faust's web server listens on every interface by default; loopback unless configured.
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
    producer_acks=-1,
    producer_request_timeout=settings.producer_request_timeout_seconds,
    consumer_auto_offset_reset="earliest",
    broker_commit_every=100,
    broker_commit_interval=1.0,
    stream_buffer_maxsize=512,
    table_standby_replicas=0,
)


def _topic(name: str, partitions: int | None = None) -> faust.TopicT:
    return app.topic(
        settings.topic(name), key_type=bytes, value_type=bytes, partitions=partitions or settings.partitions
    )


raw_articles_topic = _topic(names.RAW_ARTICLES)
articles_topic = _topic(names.ARTICLES)
assign_topic = _topic(names.ASSIGN, partitions=1)
placements_topic = _topic(names.PLACEMENTS)
events_topic = _topic(names.EVENTS)
claims_topic = _topic(names.CLAIMS)
disputes_topic = _topic(names.DISPUTES)
alerts_topic = _topic(names.ALERTS)
alert_retry_topic = _topic(names.ALERT_RETRY)

_dlq_topics: dict[str, faust.TopicT] = {}


def json_table(name: str, partitions: int | None = None) -> Any:
    """A Faust table of JSON values keyed by str (the app's raw serializers are for topics, not tables)."""
    schema: Any = faust.Schema(key_type=str, key_serializer="json", value_serializer="json")
    return app.Table(name, default=None, partitions=partitions or settings.partitions, schema=schema)


dead_lettered_by_stage: Counter[str] = Counter()
"""Messages each stage dead-lettered since the worker started (GET /health reports them)."""


def dlq_topic(source_topic: str) -> faust.TopicT:
    """The dead-letter twin of a (prefixed) source topic name."""
    if source_topic not in _dlq_topics:
        _dlq_topics[source_topic] = app.topic(
            names.dlq(source_topic), key_type=bytes, value_type=bytes, partitions=1
        )
    return _dlq_topics[source_topic]


def note_dead_letter(stage: str, topic: str, partition: int | None, offset: int | None,
                     error: BaseException | str) -> None:
    """Count a dead letter for /health and log it (never the body)."""
    dead_lettered_by_stage[stage] += 1
    log_event(log, "dead_lettered", logging.WARNING, stage=stage, topic=topic, partition=partition,
              offset=offset, error_type=type(error).__name__ if isinstance(error, BaseException) else "str",
              error=reason(error)[:300])


async def send_to_dlq(stage: str, event: Any, error: BaseException | str) -> None:
    """Dead-letter the current message with its reason, and log it (never the body)."""
    msg = event.message
    env = dead_letter(
        stage=stage, topic=msg.topic, partition=msg.partition, offset=msg.offset,
        key=event.key if isinstance(event.key, bytes) else None,
        value=event.value if isinstance(event.value, bytes) else None, error=error,
    )
    note_dead_letter(stage, msg.topic, msg.partition, msg.offset, error)
    await dlq_topic(msg.topic).send(key=event.key if isinstance(event.key, bytes) else None, value=encode(env))


async def reject(stage: str, event: Any, error: Exception) -> None:
    """Dead-letter a message a stage could not handle, whatever the error: a newsrift error is an expected reason;
    anything else is a bug or an input nobody foresaw, so its traceback is logged (once, here) and the stage goes
    on with the next message. Agents catch ``Exception`` only: cancellation and other ``BaseException`` propagate.
    """
    if not isinstance(error, NewsriftError):
        msg = getattr(event, "message", None)
        log.error("event=unexpected_error %s", kv(stage=stage, topic=getattr(msg, "topic", "?"),
                                                   partition=getattr(msg, "partition", "?"),
                                                   offset=getattr(msg, "offset", "?"),
                                                   error_type=type(error).__name__, error=str(error)[:300]),
                  exc_info=error)
    await send_to_dlq(stage, event, error)


@app.timer(interval=30.0, on_leader=False)
async def report_held_log_lines() -> None:
    """Repeated broker errors held back by the log filter, reported once the repeats have stopped."""
    from pipeline.logfilter import held_everywhere

    for name, level, message, count in held_everywhere():
        log_event(log, "log_lines_held", logging.WARNING, source=name, source_level=logging.getLevelName(level),
                  count=count, message=message[:200])


def load_agents() -> faust.App:
    """Import every stage's agent module (they register on ``app``) and return the app."""
    from pipeline import watch as _watch  # noqa: F401
    from pipeline import web as _web  # noqa: F401
    from pipeline.alerts import agent as _alerts  # noqa: F401
    from pipeline.disputes import agent as _disputes  # noqa: F401
    from pipeline.events import agent as _events  # noqa: F401
    from pipeline.index import agent as _index  # noqa: F401
    from pipeline.normalize import agent as _normalize  # noqa: F401

    return app
