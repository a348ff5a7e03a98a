"""Consumer lag per reader of each topic: how far each stage, and the indexer, is behind (``newsrift lag``)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from newsrift.errors import NewsriftError
from newsrift.runtime.offsets import processed_to
from newsrift.settings import Settings
from newsrift.topics import readers


class PartitionOffsets(NamedTuple):
    """One partition as Kafka books it: the log's first and next offset, and a group's committed offset (None when
    the group never committed there)."""

    start: int
    end: int
    committed: int | None

    @property
    def behind(self) -> int:
        """Messages the group has yet to commit (``newsrift.runtime.offsets.processed_to``: from the log's start at
        most)."""
        return max(0, self.end - processed_to(self.start, self.committed))


def admin_client(settings: Settings, bootstrap_timeout_ms: int = 10000, request_timeout_ms: int = 30000) -> Any:
    """A kafka-python admin client on the broker; ``NewsriftError`` when the broker cannot be reached."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        return KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, bootstrap_timeout_ms=bootstrap_timeout_ms,
                                request_timeout_ms=request_timeout_ms)
    except KafkaError as e:
        raise NewsriftError(f"Kafka not reachable at {settings.kafka_bootstrap} ({type(e).__name__}; "
                            "newsrift services up?)") from e


def partition_offsets(
    settings: Settings, topics: list[str], groups: list[str], bootstrap_timeout_ms: int = 10000, admin: Any = None
) -> dict[str, dict[tuple[str, int], PartitionOffsets]]:
    """For each group, every partition of the topics the broker has: ``{group: {(topic, partition): offsets}}``.
    A topic the broker does not have is left out. Uses ``admin`` when given (and leaves it open), else a client of
    its own. ``NewsriftError`` when the broker cannot be reached."""
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec
    from kafka.errors import KafkaError

    own = admin is None
    client = admin_client(settings, bootstrap_timeout_ms) if own else admin
    try:
        described = client.describe_topics(sorted(set(topics)))
        parts = [TopicPartition(d["name"], p["partition_index"]) for d in described
                 if d.get("error_code", 0) == 0 and d.get("partitions") for p in d["partitions"]]
        ends = client.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts}) if parts else {}
        starts = client.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in parts}) if parts else {}
        listed = client.list_group_offsets(sorted(set(groups))) if groups else {}
    except KafkaError as e:
        raise NewsriftError(f"Kafka at {settings.kafka_bootstrap} did not answer: {type(e).__name__}: {e}") from e
    finally:
        if own:
            client.close()
    out: dict[str, dict[tuple[str, int], PartitionOffsets]] = {}
    for group in groups:
        committed = listed.get(group, {})
        out[group] = {
            (tp.topic, tp.partition): PartitionOffsets(
                starts[tp].offset, ends[tp].offset,
                committed[tp].offset if tp in committed and committed[tp].offset >= 0 else None)
            for tp in parts
        }
    return out


def topic_lag(settings: Settings, bootstrap_timeout_ms: int = 10000) -> dict[str, int | None]:
    """Messages not yet committed, per reader of each topic (``newsrift.topics.readers``: the topic's name for its
    stage, ``<topic>@index`` for the indexer; 0 when fully processed); None for a topic the broker does not have.
    ``NewsriftError`` when the broker cannot be reached."""
    reading = readers(settings)
    books = partition_offsets(settings, [topic for _, topic, _, _ in reading],
                              sorted({group for _, _, group, _ in reading}), bootstrap_timeout_ms)
    lag: dict[str, int | None] = {}
    for key, topic, group, _ in reading:
        mine = [p for (t, _), p in books[group].items() if t == topic]
        lag[key] = sum(p.behind for p in mine) if mine else None
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
