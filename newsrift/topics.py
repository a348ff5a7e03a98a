"""Every Kafka topic newsrift uses, with its partition count, created explicitly before any worker starts.

Broker auto-creation is off (Faust crash-loops on a topic auto-created with another partition count), so
``ensure_topics`` is the one place topics come from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from newsrift.settings import Settings

log = logging.getLogger(__name__)

RAW_ARTICLES = "news.articles.raw.v1"
ARTICLES = "news.articles.v1"
ASSIGN = "news.assign.v1"
PLACEMENTS = "news.placements.v1"
EVENTS = "news.events.v1"
CLAIMS = "news.claims.v1"
DISPUTES = "news.disputes.v1"
ALERTS = "news.alerts.v1"
ALERT_RETRY = "news.alerts.retry.v1"
RETRY_GROUP_SUFFIX = "-alert-retries"
INDEX_GROUP_SUFFIX = "-index"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int | None  # None: settings.partitions
    key: str
    doc: str
    dlq: bool = True
    group_suffix: str | None = ""
    """Read by the consumer group ``<app id><suffix>``: the worker's Faust group when empty; by no stage when None."""
    indexed: bool = False
    """Also read into Elasticsearch by the indexer, with a group of its own (``<app id>-index``)."""
    waits: bool = False
    """Its records wait for a due time: lag there is work scheduled for later, not work behind."""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(RAW_ARTICLES, None, "article_id", "feed items as connectors saw them"),
    TopicSpec(ARTICLES, None, "article_id", "normalised articles with entities and claims (no event yet)",
              indexed=True),
    # One partition on purpose: reprint detection and event clustering need every recent article in one place.
    TopicSpec(ASSIGN, 1, "constant", "articles in one global order for the reprint and event stage"),
    TopicSpec(PLACEMENTS, None, "article_id", "where an article landed: event_id, duplicate_of, carriers",
              group_suffix=None, indexed=True),
    TopicSpec(EVENTS, None, "event_id", "event records (upserts), merges recorded", group_suffix=None, indexed=True),
    TopicSpec(CLAIMS, None, "event_id", "claims with their event, keyed so one partition holds an event",
              indexed=True),
    TopicSpec(DISPUTES, None, "dispute_id", "dispute changes (new, new side, new kind, status)", indexed=True),
    TopicSpec(ALERTS, None, "alert_id", "alerts for dispute changes, one per change", group_suffix=None,
              indexed=True),
    TopicSpec(ALERT_RETRY, None, "alert_id", "alerts a sink refused for now, each with the time of its next try",
              group_suffix=RETRY_GROUP_SUFFIX, waits=True),
)


def readers(settings: Settings) -> list[tuple[str, str, str, bool]]:
    """Every (lag key, topic, consumer group, waits) that reads a topic: a stage's group under the topic's name, the
    indexer's under ``<topic>@index``. A topic two groups read is behind as long as either is."""
    out: list[tuple[str, str, str, bool]] = []
    for spec in TOPICS:
        topic = settings.topic(spec.name)
        if spec.group_suffix is not None:
            out.append((topic, topic, settings.app_id + spec.group_suffix, spec.waits))
        if spec.indexed:
            out.append((f"{topic}@index", topic, settings.app_id + INDEX_GROUP_SUFFIX, False))
    return out


def dlq(name: str) -> str:
    return f"{name}.dlq"


def all_topic_names(settings: Settings) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for spec in TOPICS:
        parts = spec.partitions or settings.partitions
        out.append((settings.topic(spec.name), parts))
        if spec.dlq:
            out.append((settings.topic(dlq(spec.name)), 1))
    return out


def partition_check(wanted: list[tuple[str, int]], described: list[dict]) -> tuple[list[str], list[str]]:
    """Compare described topics with the wanted partition counts.

    Returns (pending, mismatched). A topic the broker lists with an error or with no partitions yet is *pending*:
    right after CreateTopics the metadata can lag on the broker that answers, and reading that as "0 partitions"
    would turn a race into a false configuration error. A topic with partitions, but another count, is *mismatched*.
    """
    by_name = {d.get("name"): d for d in described}
    pending: list[str] = []
    mismatched: list[str] = []
    for name, parts in wanted:
        d = by_name.get(name)
        if d is None or d.get("error_code", 0) != 0 or not d.get("partitions"):
            pending.append(name)
        elif len(d["partitions"]) != parts:
            mismatched.append(f"topic {name} has {len(d['partitions'])} partitions, newsrift expects {parts}")
    return pending, mismatched


def ensure_topics(settings: Settings, *, wait_s: float = 30.0) -> list[str]:
    """Create missing topics and wait until the broker reports each with its partitions.

    An existing topic with another partition count is an error, not a silent mismatch.
    """
    import time

    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from newsrift.errors import ConfigError

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id=f"{settings.app_id}-admin")
    created: list[str] = []
    try:
        wanted = all_topic_names(settings)
        existing = set(admin.list_topics())
        new = [NewTopic(n, p, settings.replication) for n, p in wanted if n not in existing]
        if new:
            try:
                admin.create_topics(new, timeout_ms=30000)
            except TopicAlreadyExistsError:
                pass  # another process won the race; the partition check below still runs
            created = [t.name for t in new]
        deadline = time.monotonic() + wait_s
        delay = 0.05
        while True:
            pending, mismatched = partition_check(wanted, admin.describe_topics([n for n, _ in wanted]))
            if mismatched:
                raise ConfigError("; ".join(mismatched))
            if not pending:
                break
            if time.monotonic() > deadline:
                raise ConfigError(
                    f"the broker at {settings.kafka_bootstrap} did not report partitions for "
                    f"{', '.join(pending)} within {wait_s:.0f}s"
                )
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
    finally:
        admin.close()
    for name in created:
        log.info("event=topic_created topic=%s", name)
    return created
