import pytest
from kafka.admin import KafkaAdminClient

from newsrift.settings import Settings
from pipeline.errors import ConfigError
from pipeline.topics import all_topic_names, ensure_topics

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
