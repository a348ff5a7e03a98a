"""Consumer lag per reader of each topic: how far each stage, and the indexer, is behind (``newsrift lag``)."""

from __future__ import annotations

import time

from newsrift.settings import Settings
from pipeline.errors import NewsriftError
from pipeline.topics import readers


def topic_lag(settings: Settings, bootstrap_timeout_ms: int = 10000) -> dict[str, int | None]:
    """Messages not yet committed, per reader of each topic (``pipeline.topics.readers``: the topic's name for its
    stage, ``<topic>@index`` for the indexer; 0 when fully processed); None for a topic the broker does not have.
    ``NewsriftError`` when the broker cannot be reached."""
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient, OffsetSpec
    from kafka.errors import KafkaError

    reading = readers(settings)
    names = sorted({topic for _, topic, _, _ in reading})
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, bootstrap_timeout_ms=bootstrap_timeout_ms)
    except KafkaError as e:
        raise NewsriftError(f"Kafka not reachable at {settings.kafka_bootstrap} ({type(e).__name__}; "
                            "newsrift services up?)") from e
    try:
        described = admin.describe_topics(names)
        present = {d["name"] for d in described if d.get("error_code", 0) == 0 and d.get("partitions")}
        parts = [TopicPartition(d["name"], p["partition_index"]) for d in described if d["name"] in present
                 for p in d["partitions"]]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts}) if parts else {}
        # What retention deleted is no one's backlog: a reader without a commit, or with one older than the log's
        # start, begins at the start (auto_offset_reset earliest).
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in parts}) if parts else {}
        groups = sorted({group for _, _, group, _ in reading})
        listed = admin.list_group_offsets(groups)
    except KafkaError as e:
        raise NewsriftError(f"Kafka at {settings.kafka_bootstrap} did not answer: {type(e).__name__}: {e}") from e
    finally:
        admin.close()
    lag: dict[str, int | None] = {}
    for key, topic, group, _ in reading:
        if topic not in present:
            lag[key] = None
            continue
        committed = listed.get(group, {})
        lag[key] = 0
        for tp in parts:
            if tp.topic == topic:
                done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
                lag[key] += max(0, ends[tp].offset - max(done, starts[tp].offset))
    return lag


def consumer_lag(settings: Settings) -> dict[str, int]:
    """``topic_lag`` with a missing topic counted as 0 (nothing in it to process): for the health page and
    ``wait_drained``."""
    return {t: n or 0 for t, n in topic_lag(settings).items()}


def wait_drained(settings: Settings, timeout: float, settle: float = 3.0) -> dict[str, int]:
    """Wait until every topic the worker reads has no lag, twice ``settle`` seconds apart. Retries scheduled for
    later (the alert retry topic) are not waited for."""
    deadline = time.monotonic() + timeout
    lag: dict[str, int] = {}
    quiet_since: float | None = None
    waiting = {key for key, _, _, waits in readers(settings) if waits}
    while time.monotonic() < deadline:
        lag = {t: n for t, n in consumer_lag(settings).items() if t not in waiting}
        if sum(lag.values()) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return lag
        else:
            quiet_since = None
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not catch up within {timeout:.0f}s: lag {lag}")
