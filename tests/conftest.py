"""Shared fixtures. Service fixtures start the real Kafka and Elasticsearch through the same code as
`newsrift services up`, and fail (never skip) when they cannot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
os.environ.setdefault("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", "1")


@pytest.fixture(scope="session")
def services_running() -> dict[str, str]:
    from newsrift.cli import services
    from newsrift.settings import Settings

    settings = Settings()
    try:
        services.up(settings)
    except Exception as e:  # a test that needs a service fails when it is missing: never a skip
        pytest.fail(f"could not start the local services: {e}", pytrace=False)
    return {"kafka": settings.kafka_bootstrap, "es": settings.es_url}


@pytest.fixture(scope="session")
def kafka_bootstrap(services_running: dict[str, str]) -> str:
    return services_running["kafka"]


@pytest.fixture(scope="session")
def es_url(services_running: dict[str, str]) -> str:
    return services_running["es"]


@pytest.fixture()
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def unique_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """``make(name, partitions=1)`` creates a fresh topic for this test; all are deleted afterwards."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    made: list[str] = []

    def make(name: str = "topic", partitions: int = 1) -> str:
        topic = f"test.{name}.{uuid.uuid4().hex[:10]}"
        admin.create_topics([NewTopic(topic, partitions, 1)])
        made.append(topic)
        return topic

    yield make
    if made:
        try:
            admin.delete_topics(made)
        finally:
            admin.close()
    else:
        admin.close()


@pytest.fixture(scope="session")
def seed_text() -> str:
    return (SHARED / "seed" / "seed-article.txt").read_text(encoding="utf-8")


@pytest.fixture()
def isolated(kafka_bootstrap: str, es_url: str) -> Iterator[object]:
    """Settings with topics, indices, templates and a consumer group of this test's own; all removed afterwards."""
    import contextlib

    from elasticsearch import Elasticsearch
    from kafka.admin import KafkaAdminClient

    from newsrift.settings import Settings

    tag = f"t{uuid.uuid4().hex[:9]}"
    yield Settings(topic_prefix=f"{tag}.", index_prefix=tag, app_id=tag, web_port=6068)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    with contextlib.suppress(Exception):
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(tag)])
    admin.close()
    es = Elasticsearch(es_url)
    es.indices.delete(index=f"{tag}-*", ignore_unavailable=True, allow_no_indices=True)
    for kind in ("articles", "claims", "events", "disputes", "alerts"):
        with contextlib.suppress(Exception):
            es.indices.delete_index_template(name=f"{tag}-{kind}")
    es.close()
    import shutil

    shutil.rmtree(Settings().home / "worker" / tag, ignore_errors=True)
