"""A dispute with no news for longer than the stale period turns stale in the running worker (timer sweep), an
event quiet for longer than the retention has its dispute state dropped from the worker's table, and the alert
stage forgets its sent-marks after twice the retention. The seed story is from 2018: the quiet period counts from
when its claims arrive, so a replay is not stale on landing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from newsrift.cli.demo import ingest_seeds, start_worker, stop_worker, wait_for_index
from newsrift.settings import Settings
from newsrift.stages.index.core import IndexNames
from newsrift.topics import DISPUTES, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_seed_dispute_goes_stale(isolated: Settings, tmp_path: Path) -> None:
    settings = isolated.model_copy(update={"sweep_seconds": 2.0, "dispute_stale_seconds": 30.0,
                                           "dispute_retention_seconds": 40.0})
    ensure_topics(settings)
    worker = start_worker(settings, tmp_path / "worker.log")
    es = Elasticsearch(settings.es_url)
    alias = IndexNames(settings.index_prefix).alias("disputes")
    try:
        ingest_seeds(settings, tmp_path / "state")
        wait_for_index(settings, 5, 1, 240, worker)
        es.indices.refresh(index=alias)
        # Several sweeps (every 2 s) have run by now; wall-clock staleness would have made all of them stale.
        time.sleep(6)
        es.indices.refresh(index=alias)
        landed = [h["_source"]["status"] for h in es.search(index=alias)["hits"]["hits"]]
        deadline = time.monotonic() + 120
        statuses: list[str] = []
        while time.monotonic() < deadline:
            es.indices.refresh(index=alias)
            statuses = [h["_source"]["status"] for h in es.search(index=alias)["hits"]["hits"]]
            if statuses and all(s == "stale" for s in statuses):
                break
            time.sleep(1)
        log = tmp_path / "worker.log"
        while time.monotonic() < deadline and "event=event_state_dropped" not in log.read_text(errors="replace"):
            time.sleep(1)
        dropped = log.read_text(errors="replace").count("event=event_state_dropped")
        # The alert marks written at landing go 80 s later (twice the retention), pruned while the alert stage
        # handles a message of their partition: nudge every partition (the junk goes to the dead-letter topic).
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        disputes = settings.topic(DISPUTES)
        pruned: list[int] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not pruned:
            for part in range(settings.partitions):
                producer.send(disputes, key=b"nudge", value=b"{not json", partition=part).get(10)
            time.sleep(2)
            text = log.read_text(errors="replace")
            pruned = [int(n) for n in re.findall(r"event=alert_marks_pruned .*count=(\d+)", text)]
        producer.close()
    finally:
        es.close()
        stop_worker(worker)
    # Freshly replayed 2018 news is live news to its readers: not stale on landing ...
    assert landed and "stale" not in landed, landed
    # ... stale once 30 s (the stale period here) pass without a claim ...
    assert statuses and all(s == "stale" for s in statuses), statuses
    # ... and dropped from the worker's table once the 40 s retention has passed (the documents stay).
    assert dropped >= 1
    # The alert stage's dedupe table is bounded too: its marks go after 80 s.
    assert pruned and sum(pruned) >= 1, pruned
