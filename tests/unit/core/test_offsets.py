"""The offset watch's judgement: which partitions are stuck, and which repair each gets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from newsrift.lag import PartitionOffsets
from pipeline.offsets import PartitionState, StuckWatch

P = ("raw", 0)


def state(committed: int | None = 4, end: int = 5, local: int | None = 4, position: int | None = 5,
          busy: bool = False, start: int = 0) -> PartitionState:
    return PartitionState(start=start, end=end, committed=committed, local=local, position=position, busy=busy)


def test_a_message_fetched_and_never_acked_is_fetched_again_after_the_wait() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(60)
    assert watch.check({P: state()}, 0.0) == []  # idle from now on
    assert watch.check({P: state()}, 59.0) == []
    [fix] = watch.check({P: state()}, 61.0)
    assert (fix.partition, fix.action, fix.offset, fix.behind) == (P, "seek", 4, 1)
    assert fix.idle_seconds == pytest.approx(61.0)
    # One repair per wait: the next comes only a full wait later, if the partition is still stuck.
    assert watch.check({P: state()}, 62.0) == []
    assert [f.action for f in watch.check({P: state()}, 122.0)] == ["seek"]


def test_a_commit_that_never_reached_kafka_is_sent_again() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(30)
    stuck = state(committed=4, local=5, position=5)
    watch.check({P: stuck}, 0.0)
    [fix] = watch.check({P: stuck}, 30.0)
    assert (fix.action, fix.offset) == ("commit", 5)
    # The worker's books can never carry Kafka past the log's end.
    watch = StuckWatch(30)
    beyond = state(committed=4, local=9, end=6, position=6)
    watch.check({P: beyond}, 0.0)
    assert [(f.action, f.offset) for f in watch.check({P: beyond}, 31.0)] == [("commit", 6)]


def test_a_partition_with_work_in_hand_or_still_to_fetch_is_never_stuck() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(10)
    quiet = {
        ("held", 0): state(busy=True),                 # a stage has the message: its ack will come
        ("fetch", 0): state(position=4),               # the fetch has not passed the committed offset yet
        ("unknown", 0): state(position=None, busy=True),
        ("done", 0): state(committed=5, local=5),      # nothing behind
        ("empty", 0): state(committed=None, local=None, end=0, position=0),
    }
    for t in (0.0, 100.0, 1000.0):
        assert watch.check(quiet, t) == []


def test_progress_in_either_book_starts_the_wait_again() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(60)
    watch.check({P: state(committed=4, end=9)}, 0.0)
    assert watch.check({P: state(committed=6, local=6, end=9)}, 50.0) == []  # Kafka moved on
    assert watch.check({P: state(committed=6, local=6, end=9)}, 100.0) == []  # 50 s since, not 60
    assert watch.check({P: state(committed=6, local=7, end=9)}, 111.0) == []  # the worker's own book moved
    assert [f.offset for f in watch.check({P: state(committed=6, local=7, end=9)}, 171.0)] == [7]
    # Busy for a while clears the wait too.
    watch.check({P: state(busy=True)}, 200.0)
    assert watch.check({P: state()}, 201.0) == []
    assert watch.check({P: state()}, 250.0) == []


def test_a_revoked_partition_is_forgotten() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(60)
    watch.check({P: state()}, 0.0)
    assert watch.check({}, 30.0) == []  # revoked
    assert watch.check({P: state()}, 70.0) == []  # assigned again: its wait starts now
    assert len(watch.check({P: state()}, 130.0)) == 1


def test_retention_is_no_ones_backlog_and_a_group_without_a_commit_seeks_to_the_log_start() -> None:
    watch: StuckWatch[tuple[str, int]] = StuckWatch(5)
    deleted = state(committed=3, local=3, start=10, end=10, position=10)
    watch.check({P: deleted}, 0.0)
    assert watch.check({P: deleted}, 10.0) == []
    never = state(committed=None, local=None, start=2, end=7, position=7)
    watch.check({("new", 0): never}, 0.0)
    assert [(f.action, f.offset, f.behind) for f in watch.check({("new", 0): never}, 6.0)] == [("seek", 2, 5)]


def test_the_wait_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        StuckWatch(0)


def test_partition_offsets_behind_counts_from_the_log_start() -> None:
    assert PartitionOffsets(start=0, end=5, committed=None).behind == 5
    assert PartitionOffsets(start=3, end=5, committed=1).behind == 2
    assert PartitionOffsets(start=0, end=5, committed=5).behind == 0


def test_the_worker_books_are_read_side_by_side_with_kafkas() -> None:
    from faust.types import TP

    from pipeline.watch import states

    def message(topic: str, partition: int, acked: bool) -> SimpleNamespace:
        return SimpleNamespace(tp=TP(topic, partition), acked=acked)

    consumer = SimpleNamespace(
        _unacked_messages=[message("raw", 0, False), message("raw", 1, True)],
        _committed_offset={TP("raw", 0): 3, TP("raw", 1): 7},
    )
    books = {("raw", 0): PartitionOffsets(0, 5, 3), ("raw", 1): PartitionOffsets(0, 8, 7),
             ("raw", 2): PartitionOffsets(0, 2, 2)}
    positions: dict[tuple[str, int], int | None] = {("raw", 0): 5, ("raw", 1): 8}  # raw[2] is not ours
    seen = states(consumer, books, positions)
    assert set(seen) == {("raw", 0), ("raw", 1)}
    assert seen[("raw", 0)] == PartitionState(start=0, end=5, committed=3, local=3, position=5, busy=True)
    assert seen[("raw", 1)] == PartitionState(start=0, end=8, committed=7, local=7, position=8, busy=False)
