"""Offsets judged without Kafka or Faust: a group's backlog, and the holes a stage finds in its partitions' offsets
(``newsrift.runtime.offsets.Continuity``, which ``newsrift.runtime.commits.OffsetOrder`` applies to every message)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from newsrift.runtime.lag import PartitionOffsets

P = ("raw", 0)


def test_partition_offsets_behind_counts_from_the_log_start() -> None:
    assert PartitionOffsets(start=0, end=5, committed=None).behind == 5
    assert PartitionOffsets(start=3, end=5, committed=1).behind == 2
    assert PartitionOffsets(start=0, end=5, committed=5).behind == 0


def test_a_message_past_the_expected_offset_reveals_a_hole_which_stays_open_until_filled() -> None:
    from newsrift.runtime.offsets import Continuity, Gap

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
    from newsrift.runtime.offsets import Continuity, Gap

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
    from newsrift.runtime.offsets import Continuity, Gap

    seen: Continuity[tuple[str, int]] = Continuity()
    seen.see(P, 2, first=2)
    assert seen.see(P, 4) == Gap("seek", 3, 4, first=True)
    assert seen.see(P, 4) == Gap("seek", 3, 4)  # Faust dropped 3 from the fetch after the seek was undone
    assert seen.see(P, 3) == Gap("filled", 3, 3, seeks=2)


def test_the_first_message_after_an_assignment_is_judged_by_the_committed_offset() -> None:
    from newsrift.runtime.offsets import Continuity, Gap

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

    from newsrift.runtime.commits import OffsetOrder

    order = OffsetOrder()
    tp = TP("claims", 1)
    seeks: list[dict] = []

    class Consumer:
        """What a stage uses of Faust's consumer: its public assignment and seek."""

        def assignment(self) -> set:
            return {tp}

        async def seek_wait(self, offsets: dict) -> None:
            seeks.append(offsets)

    def deliver(*offsets: int) -> None:
        for offset in offsets:
            event = SimpleNamespace(message=SimpleNamespace(tp=tp, topic="claims", partition=1, offset=offset))
            asyncio.run(order.see("detect_disputes", event, Consumer()))

    with caplog.at_level(logging.INFO, logger="newsrift.worker"):
        deliver(3, 4, 6, 7)  # 5 dropped; 7 is the rest of the stale fetch
        assert seeks == [{tp: 5}, {tp: 5}]
        deliver(5, 6, 7, 8)  # the fetch from the hole
        assert seeks == [{tp: 5}, {tp: 5}]
        deliver(10)  # 9 dropped, and the partition is taken away before the fetch from it came back
        order.forget()
    lines = [r.getMessage() for r in caplog.records]
    assert any("event=offset_hole stage=detect_disputes topic=claims partition=1 missing=5-5 at=6" in m for m in lines)
    assert any("event=offset_hole_filled stage=detect_disputes topic=claims partition=1 offset=5 seeks=2" in m
               for m in lines)
    assert any("event=offset_hole_unfilled" in m and "missing_from=9" in m for m in lines)
    assert order.counts == {"holes": 2, "holes_lost": 1}
    # After a rebalance the first message of a partition starts its sequence again.
    seeks.clear()
    deliver(4, 5)
    assert seeks == []
    deliver(7)
    assert seeks == [{tp: 6}]


def test_a_check_that_fails_never_fails_the_message(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import logging

    from newsrift.runtime.commits import OffsetOrder

    with caplog.at_level(logging.WARNING, logger="newsrift.worker"):
        asyncio.run(OffsetOrder().see("route_articles", SimpleNamespace(), None))  # no message on it at all
    assert any("event=offset_hole_check_failed stage=route_articles" in r.getMessage() for r in caplog.records)
