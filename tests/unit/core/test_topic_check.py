"""The partition check that ``ensure_topics`` repeats until the broker's metadata has caught up."""

from pipeline.topics import partition_check

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
