"""The partition check that ``ensure_topics`` repeats until the broker's metadata has caught up, and who reads each
topic (the lag keys)."""

from newsrift.topics import partition_check

WANTED = [("a", 3), ("a.dlq", 1)]


def _topic(name: str, parts: int, error_code: int = 0) -> dict:
    return {"name": name, "error_code": error_code, "partitions": [{"partition": i} for i in range(parts)]}


def test_fresh_topic_without_partitions_is_pending_not_a_mismatch() -> None:
    pending, mismatched = partition_check(WANTED, [_topic("a", 0), _topic("a.dlq", 1)])
    assert pending == ["a"]
    assert mismatched == []


def test_topic_with_an_error_or_missing_from_the_answer_is_pending() -> None:
    pending, mismatched = partition_check(WANTED, [_topic("a", 3, error_code=3)])
    assert pending == ["a", "a.dlq"]
    assert mismatched == []


def test_wrong_partition_count_is_reported_with_both_numbers() -> None:
    pending, mismatched = partition_check(WANTED, [_topic("a", 2), _topic("a.dlq", 1)])
    assert pending == []
    assert mismatched == ["topic a has 2 partitions, newsrift expects 3"]


def test_all_present_with_the_right_counts() -> None:
    assert partition_check(WANTED, [_topic("a", 3), _topic("a.dlq", 1)]) == ([], [])


def test_each_reader_of_a_topic_has_its_own_lag_key_and_group() -> None:
    from newsrift.settings import Settings
    from newsrift.topics import ALERT_RETRY, ALERTS, CLAIMS, EVENTS, RAW_ARTICLES, readers

    s = Settings(app_id="nr", topic_prefix="p.")
    by_key = {key: (topic, group, waits) for key, topic, group, waits in readers(s)}
    claims, events, alerts = s.topic(CLAIMS), s.topic(EVENTS), s.topic(ALERTS)
    # Claims: the dispute stage (the worker's Faust group) and the indexer, each with its own committed offsets.
    assert by_key[claims] == (claims, "nr", False) and by_key[f"{claims}@index"] == (claims, "nr-index", False)
    # Events and alerts: only the indexer reads them.
    assert events not in by_key and by_key[f"{events}@index"] == (events, "nr-index", False)
    assert alerts not in by_key and f"{alerts}@index" in by_key
    # Raw articles are not indexed; alert retries wait for their due time under the retrier's group.
    assert f"{s.topic(RAW_ARTICLES)}@index" not in by_key
    assert by_key[s.topic(ALERT_RETRY)] == (s.topic(ALERT_RETRY), "nr-alert-retries", True)
