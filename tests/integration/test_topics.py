import pytest
from kafka.admin import KafkaAdminClient

from newsrift.errors import ConfigError
from newsrift.settings import Settings
from newsrift.topics import all_topic_names, ensure_topics

pytestmark = pytest.mark.integration


def test_ensure_topics_creates_each_topic_once_with_its_partitions(kafka_bootstrap: str, unique_name: str) -> None:
    s = Settings(topic_prefix=f"{unique_name}.", partitions=2)
    wanted = dict(all_topic_names(s))
    assert wanted[f"{unique_name}.news.assign.v1"] == 1
    assert wanted[f"{unique_name}.news.claims.v1.dlq"] == 1
    created = ensure_topics(s)
    assert sorted(created) == sorted(wanted)
    assert ensure_topics(s) == []
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        described = {d["name"]: len(d["partitions"]) for d in admin.describe_topics(list(wanted))}
        assert described == wanted
        # The same topics expected with another partition count: refused loudly, not silently mismatched.
        with pytest.raises(ConfigError, match="partitions"):
            ensure_topics(Settings(topic_prefix=f"{unique_name}.", partitions=3))
    finally:
        admin.delete_topics(list(wanted))
        admin.close()


def test_lag_does_not_count_what_retention_deleted(kafka_bootstrap: str, unique_name: str) -> None:
    """A reader with no commit starts at the log's start, not at offset 0: deleted records are no one's backlog."""
    from kafka import KafkaProducer, TopicPartition

    from newsrift.runtime.lag import topic_lag
    from newsrift.topics import EVENTS

    s = Settings(topic_prefix=f"{unique_name}.", partitions=1, app_id=f"{unique_name}-app",
                 kafka_bootstrap=kafka_bootstrap)
    ensure_topics(s)
    topic = s.topic(EVENTS)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for _ in range(5):
        producer.send(topic, key=b"e", value=b"{}")
    producer.flush()
    producer.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert topic_lag(s)[f"{topic}@index"] == 5
        admin.delete_records({TopicPartition(topic, 0): 3}, timeout_ms=10000)
        assert topic_lag(s)[f"{topic}@index"] == 2
    finally:
        admin.delete_topics([n for n, _ in all_topic_names(s)])
        admin.close()
