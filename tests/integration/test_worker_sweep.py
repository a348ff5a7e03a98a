"""A dispute with no news for longer than the stale period turns stale in the running worker (timer sweep)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka.admin import KafkaAdminClient

from newsrift.demo import ingest_seeds, start_worker, stop_worker, wait_for_index
from newsrift.settings import Settings
from pipeline.index.core import IndexNames
from pipeline.topics import ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def settings(kafka_bootstrap: str, es_url: str) -> Iterator[Settings]:
    tag = f"sw{uuid.uuid4().hex[:8]}"
    yield Settings(topic_prefix=f"{tag}.", index_prefix=tag, app_id=tag, web_port=6070, sweep_seconds=2.0)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    with contextlib.suppress(Exception):
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(tag)])
    admin.close()
    es = Elasticsearch(es_url)
    es.indices.delete(index=f"{tag}-*", ignore_unavailable=True, allow_no_indices=True)
    es.close()


def test_seed_dispute_goes_stale(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    worker = start_worker(settings, tmp_path / "worker.log")
    es = Elasticsearch(settings.es_url)
    alias = IndexNames(settings.index_prefix).alias("disputes")
    try:
        ingest_seeds(settings, tmp_path / "state")
        wait_for_index(settings, 5, 1, 240, worker)
        deadline = time.monotonic() + 60
        statuses: list[str] = []
        while time.monotonic() < deadline:
            es.indices.refresh(index=alias)
            statuses = [h["_source"]["status"] for h in es.search(index=alias)["hits"]["hits"]]
            if statuses and all(s == "stale" for s in statuses):
                break
            time.sleep(1)
    finally:
        es.close()
        stop_worker(worker)
    # The seed story is from 2018: years without news, so every dispute is stale once swept.
    assert statuses and all(s == "stale" for s in statuses), statuses
