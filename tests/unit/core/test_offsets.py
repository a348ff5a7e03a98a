"""The offset watch's judgement: which partitions are stuck, and which repair each gets."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pipeline.lag import PartitionOffsets
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
    watch.check({P: state(committed=4, end=9, position=9)}, 0.0)
    assert watch.check({P: state(committed=6, local=6, end=9, position=9)}, 50.0) == []  # Kafka moved on
    assert watch.check({P: state(committed=6, local=6, end=9, position=9)}, 100.0) == []  # 50 s since, not 60
    assert watch.check({P: state(committed=6, local=7, end=9, position=9)}, 111.0) == []  # the worker's book moved
    assert [f.offset for f in watch.check({P: state(committed=6, local=7, end=9, position=9)}, 171.0)] == [7]
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


def _message(topic: str, partition: int, acked: bool = False) -> SimpleNamespace:
    from faust.types import TP

    return SimpleNamespace(tp=TP(topic, partition), topic=topic, partition=partition, acked=acked)


def test_the_worker_books_are_read_side_by_side_with_kafkas() -> None:
    from faust.types import TP

    from pipeline.watch import states

    consumer = SimpleNamespace(
        _unacked_messages=[_message("raw", 0), _message("raw", 1, acked=True)],
        _committed_offset={TP("raw", 0): 3, TP("raw", 1): 7, TP("raw", 3): 2},
    )
    # A stream's buffer holds an event of raw[3]: delivered, not yet pulled by its stage (so not unacked yet).
    channels = [SimpleNamespace(_queue=None), SimpleNamespace(_queue=SimpleNamespace(
        _queue=[SimpleNamespace(message=_message("raw", 3))]))]
    books = {("raw", 0): PartitionOffsets(0, 5, 3), ("raw", 1): PartitionOffsets(0, 8, 7),
             ("raw", 2): PartitionOffsets(0, 2, 2), ("raw", 3): PartitionOffsets(0, 4, 2)}
    positions: dict[tuple[str, int], int | None] = {("raw", 0): 5, ("raw", 1): 8, ("raw", 3): 4}  # raw[2]: not ours
    seen = states(consumer, channels, books, positions)
    assert set(seen) == {("raw", 0), ("raw", 1), ("raw", 3)}
    assert seen[("raw", 0)] == PartitionState(start=0, end=5, committed=3, local=3, position=5, busy=True)
    assert seen[("raw", 1)] == PartitionState(start=0, end=8, committed=7, local=7, position=8, busy=False)
    assert seen[("raw", 3)].busy


class _Consumer:
    """The few calls ``repair`` makes, recorded (a stand-in for Faust's consumer object, not for Kafka)."""

    def __init__(self, assigned: set, committed: dict, committing: bool = False, accepts: bool = True) -> None:
        self.assigned, self._committed_offset, self.committing, self.accepts = assigned, committed, committing, accepts
        self.calls: list[tuple[str, dict]] = []

    def assignment(self) -> set:
        return self.assigned

    async def maybe_wait_for_commit_to_finish(self) -> bool:
        return self.committing

    async def _commit(self, offsets: dict) -> bool:
        self.calls.append(("commit", offsets))
        return self.accepts

    async def seek_wait(self, offsets: dict) -> None:
        self.calls.append(("seek", offsets))


def test_a_repair_is_applied_only_while_the_partition_is_still_ours_and_unchanged() -> None:
    import asyncio

    from faust.types import TP

    from pipeline.offsets import Repair
    from pipeline.watch import repair

    tp = TP("raw", 0)
    commit = Repair(("raw", 0), "commit", 5, 1, 60.0)
    seek = Repair(("raw", 0), "seek", 4, 1, 60.0)
    ok = _Consumer({tp}, {tp: 5})
    assert asyncio.run(repair(ok, commit)) and asyncio.run(repair(ok, seek))
    assert ok.calls == [("commit", {tp: 5}), ("seek", {tp: 4})]
    for skipped in (_Consumer(set(), {tp: 5}),                    # revoked since it was judged
                    _Consumer({tp}, {tp: 5}, committing=True),    # a commit of Faust's own was in flight
                    _Consumer({tp}, {tp: 4})):                    # the worker's book went back (reassigned)
        assert asyncio.run(repair(skipped, commit)) is False and skipped.calls == []
    with pytest.raises(RuntimeError, match="refused"):
        asyncio.run(repair(_Consumer({tp}, {tp: 5}, accepts=False), commit))


def test_the_books_are_not_read_once_closing() -> None:
    from pipeline.settings import Settings
    from pipeline.watch import Books

    books = Books(Settings())
    books.close()
    assert books.read(["raw"]) is None  # no client is made after close, so none is left open


def test_a_message_past_the_expected_offset_reveals_a_hole_which_stays_open_until_filled() -> None:
    from pipeline.offsets import Continuity, Gap

    seen: Continuity[tuple[str, int]] = Continuity()
    assert seen.see(P, 4, first=4) is None
    assert seen.see(P, 5) is None
    assert seen.see(P, 8) == Gap("seek", 6, 8, first=True)  # 6 and 7 never came
    # The rest of the fetch made before the seek: each one means the seek must be made again.
    assert seen.see(P, 9) == Gap("seek", 6, 9)
    assert seen.see(P, 5) is None  # a duplicate from before the hole
    assert seen.see(P, 6) == Gap("filled", 6, 6, seeks=2)
    assert seen.see(P, 7) is None and seen.see(P, 8) is None and seen.see(P, 9) is None and seen.see(P, 10) is None
    assert seen.see(P, 12) == Gap("seek", 11, 12, first=True)


def test_a_fetch_from_the_hole_that_comes_back_without_it_is_a_loss() -> None:
    from pipeline.offsets import Continuity, Gap

    seen: Continuity[tuple[str, int]] = Continuity(rounds=3)
    seen.see(P, 0, first=0)
    assert seen.see(P, 3) == Gap("seek", 1, 3, first=True)
    assert seen.see(P, 4) == Gap("seek", 1, 4)
    # Fetched again from 1, and back without it: the seek may have been undone by Faust's fetch loop, so again...
    assert seen.see(P, 2) == Gap("seek", 1, 2)
    assert seen.see(P, 4) == Gap("seek", 1, 4)
    assert seen.see(P, 2) == Gap("lost", 1, 2, seeks=4)  # ...until the third time: 1 is not there
    assert seen.see(P, 3) is None and seen.see(P, 4) is None  # the rest of that fetch: seen before
    assert seen.see(P, 5) is None


def test_a_fetch_back_without_the_hole_then_with_it_fills_it() -> None:
    from pipeline.offsets import Continuity, Gap

    seen: Continuity[tuple[str, int]] = Continuity()
    seen.see(P, 2, first=2)
    assert seen.see(P, 4) == Gap("seek", 3, 4, first=True)
    assert seen.see(P, 4) == Gap("seek", 3, 4)  # Faust dropped 3 from the fetch after the seek was undone
    assert seen.see(P, 3) == Gap("filled", 3, 3, seeks=2)


def test_the_first_message_after_an_assignment_is_judged_by_the_committed_offset() -> None:
    from pipeline.offsets import Continuity, Gap

    seen: Continuity[tuple[str, int]] = Continuity()
    other = ("raw", 1)
    assert seen.see(other, 3, first=2) == Gap("seek", 2, 3, first=True)
    assert not seen.knows(("raw", 2))
    assert seen.see(("raw", 2), 7, first=None) is None  # nothing known to judge by
    assert seen.see(P, 20, first=20) is None
    # A rebalance forgets everything and reports the holes still open.
    assert seen.forget() == [(other, 2, 3)]
    assert not seen.knows(P) and seen.forget() == []
    assert seen.see(P, 12) is None and seen.see(P, 13) is None  # judged afresh


def test_a_stage_that_meets_a_hole_fetches_again_until_it_is_filled(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import logging

    from faust.types import TP

    from pipeline.settings import Settings
    from pipeline.watch import OffsetChecks

    watch = OffsetChecks(Settings())
    tp = TP("claims", 1)
    consumer = _Consumer({tp}, {tp: 3})
    seeks: list[dict] = []

    async def seek_wait(offsets: dict) -> None:
        seeks.append(offsets)

    consumer.seek_wait = seek_wait  # type: ignore[method-assign]

    def deliver(*offsets: int) -> None:
        for offset in offsets:
            event = SimpleNamespace(message=SimpleNamespace(tp=tp, topic="claims", partition=1, offset=offset))
            asyncio.run(watch.note("detect_disputes", event, consumer))

    before = dict(watch.checks)
    with caplog.at_level(logging.INFO, logger="newsrift.worker"):
        deliver(3, 4, 6, 7)  # 5 dropped; 7 is the rest of the stale fetch
        assert seeks == [{tp: 5}, {tp: 5}]
        deliver(5, 6, 7, 8)  # the fetch from the hole
        assert seeks == [{tp: 5}, {tp: 5}]
        deliver(10)  # 9 dropped, and the partition is taken away before the fetch from it came back
        watch.forget()
    lines = [r.getMessage() for r in caplog.records]
    assert any("event=offset_hole stage=detect_disputes topic=claims partition=1 missing=5-5 at=6" in m for m in lines)
    assert any("event=offset_hole_filled stage=detect_disputes topic=claims partition=1 offset=5 seeks=2" in m
               for m in lines)
    assert any("event=offset_hole_unfilled" in m and "missing_from=9" in m for m in lines)
    assert watch.checks["holes"] - before["holes"] == 2 and watch.checks["holes_lost"] - before["holes_lost"] == 1
    # The first message after an assignment is judged against the committed offset Faust sought to.
    seeks.clear()
    deliver(4)
    assert seeks == [{tp: 3}]
