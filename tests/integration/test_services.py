"""The local services started by the project answer, and `up` is idempotent."""

import json
import urllib.request

import pytest

from newsrift.cli import services
from newsrift.settings import Settings

pytestmark = pytest.mark.integration


def test_status_reports_both_healthy(services_running: dict[str, str]) -> None:
    statuses = {s.name: s for s in services.status(Settings())}
    assert statuses["kafka"].healthy and statuses["kafka"].pid
    assert statuses["elasticsearch"].healthy and statuses["elasticsearch"].pid


def test_up_twice_is_harmless(services_running: dict[str, str]) -> None:
    before = {s.name: s.pid for s in services.status(Settings())}
    infos = services.up(Settings())
    assert all(i.get("already_running") for i in infos)
    assert {s.name: s.pid for s in services.status(Settings())} == before


def test_elasticsearch_is_the_real_node(es_url: str) -> None:
    with urllib.request.urlopen(f"{es_url}/_nodes/_local") as resp:
        assert resp.headers["X-elastic-product"] == "Elasticsearch"
        nodes = json.loads(resp.read())["nodes"]
    (node,) = nodes.values()
    assert node["version"] == services.Elasticsearch(Settings()).version


def test_kafka_roundtrip(kafka_bootstrap: str, unique_topic) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer, KafkaProducer

    topic = unique_topic("roundtrip", partitions=2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    for i in range(10):
        producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()).get(10)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000, enable_auto_commit=False)
    got = sorted(m.value.decode() for m in consumer)
    consumer.close()
    assert got == sorted(f"v{i}" for i in range(10))


def test_a_busy_port_is_one_clear_error(services_running: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Another newsrift home on the same ports: it must refuse, not start a second broker or kill the first.
    other = Settings(home=tmp_path / "other")
    with pytest.raises(services.ServiceError, match="already in use"):
        services.Kafka(other).up()
