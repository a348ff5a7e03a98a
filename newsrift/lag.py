"""Consumer lag of the worker's group per topic: how far each stage is behind (``newsrift lag``)."""

from __future__ import annotations

import time

from newsrift.settings import Settings
from pipeline.topics import TOPICS


def consumer_lag(settings: Settings) -> dict[str, int]:
    """Messages not yet committed by the worker's consumer group, per input topic (0 when fully processed)."""
    from kafka import TopicPartition
    from kafka.admin import KafkaAdminClient, OffsetSpec

    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        names = [settings.topic(t.name) for t in TOPICS]
        described = admin.describe_topics(names)
        parts = [TopicPartition(d["name"], p["partition_index"]) for d in described for p in d["partitions"]]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in parts})
        committed = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    finally:
        admin.close()
    lag: dict[str, int] = {n: 0 for n in names}
    for tp in parts:
        done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
        lag[tp.topic] += max(0, ends[tp].offset - done)
    return lag


def wait_drained(settings: Settings, timeout: float, settle: float = 3.0) -> dict[str, int]:
    """Wait until every topic the worker reads has no lag, twice ``settle`` seconds apart."""
    deadline = time.monotonic() + timeout
    lag: dict[str, int] = {}
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        lag = consumer_lag(settings)
        if sum(lag.values()) == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= settle:
                return lag
        else:
            quiet_since = None
        time.sleep(0.5)
    raise TimeoutError(f"the worker did not catch up within {timeout:.0f}s: lag {lag}")
