"""Offsets, judged without Kafka or Faust: where a group's processing of a partition stands, and whether a stage's
message is the one its partition should deliver next (``Continuity``, which ``newsrift/runtime/commits.py`` applies
to every message a stage takes)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)


def processed_to(start: int, committed: int | None) -> int:
    """Where a group's processing of a partition stands in Kafka's books: its committed offset. What retention
    deleted is no one's backlog: a group without a commit, or with one older than the log's start, begins at the
    start (auto_offset_reset earliest)."""
    return max(committed or 0, start)


@dataclass(frozen=True)
class Gap:
    """What a message tells about the offsets before it. ``seek``: fetch the partition again from ``start`` (the
    hole's first offset; ``first`` is True when the hole was found just now, False for a fetch that went stale
    before it took effect). ``filled``: the hole's first message came. ``lost``: the partition was fetched again
    from ``start`` and came back without it (deleted by retention, or a producer's transaction marker)."""

    action: Literal["seek", "filled", "lost"]
    start: int
    at: int
    first: bool = False
    seeks: int = 0
    """For ``filled`` and ``lost``: how many seeks the hole took."""


class Continuity(Generic[K]):
    """The next offset a stage expects from each partition, and the holes it is waiting to see filled.

    Kafka's offsets in newsrift's topics are contiguous (no compaction, no transactions), so a message past the
    expected offset means the ones between never reached the stage: dropped by Faust between fetch and stream.
    Faust would commit over a hole of one such message once the next is acked, leaving no lag; this is how the
    stage sees it instead.

    A hole stays open until its first message comes, and every message past its start asks for the seek again:
    Faust's fetch loop moves its read offset on after handing a message out, so a seek made while it is still
    handing out a fetch is undone, and the fetch from the hole then drops everything before that read offset. A
    message inside what was seen, but not the hole's start, is such a fetch come back without it: after
    ``rounds`` of those the message is taken as not there (deleted by retention, or a transaction marker):
    lost. Messages before the hole are duplicates and say nothing."""

    def __init__(self, rounds: int = 5) -> None:
        self.rounds = rounds
        self._next: dict[K, int] = {}
        self._open: dict[K, tuple[int, int, int, int]] = {}  # key -> (start, highest seen, seeks, rounds back)

    def knows(self, key: K) -> bool:
        return key in self._next

    def forget(self) -> list[tuple[K, int, int]]:
        """After a rebalance (a partition may have been away, and another worker may have moved it on): forget
        everything, and return the holes still open as (key, start, highest offset seen)."""
        unfilled = [(key, start, high) for key, (start, high, _, _) in self._open.items()]
        self._next.clear()
        self._open.clear()
        return unfilled

    def see(self, key: K, offset: int, first: int | None = None) -> Gap | None:
        """Note a message at ``offset``; ``first`` is where the partition's first message should be when nothing
        was seen of it yet (the committed offset), None when unknown."""
        hole = self._open.get(key)
        if hole is not None:
            start, high, seeks, back = hole
            if offset == start:
                del self._open[key]
                self._next[key] = offset + 1
                return Gap("filled", start, offset, seeks=seeks)
            if offset < start:
                return None
            if offset <= high:
                back += 1
                if back >= self.rounds:
                    del self._open[key]
                    self._next[key] = high + 1
                    return Gap("lost", start, offset, seeks=seeks)
            self._open[key] = (start, max(high, offset), seeks + 1, back)
            return Gap("seek", start, offset)
        seen = self._next.get(key)
        expected = seen if seen is not None else first
        if expected is not None and offset > expected:
            self._open[key] = (expected, offset, 1, 0)
            self._next[key] = expected
            return Gap("seek", expected, offset, first=True)
        self._next[key] = offset + 1 if seen is None else max(seen, offset + 1)
        return None
