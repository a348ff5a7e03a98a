"""Stuck partitions and holes: a backlog no processing will ever clear, messages no stage ever saw, and the repairs.

Faust keeps its own books of what each stage acked and committed, beside Kafka's. A few races between rebalances,
seeks and commits (faust-streaming 0.15.3; robinhood/faust#681 and kin) can leave a partition behind in Kafka's books
while the worker believes nothing is pending there:

- a commit that failed (the group rebalanced under it) after Faust had already moved its own committed offset on, so
  the message is processed but never committed: the lag sits at 1 until the partition's next message, and on a
  quiet topic for good, and a restart processes the message again;
- a message fetched and then dropped between the fetch and the stream (skipped around a rebalance while the read
  offset moved past it), so no stage ever processes it.

The seed end-to-end test met the first or the second once in CI: one raw article behind for 180 s after a worker
restart, everything else drained. ``StuckWatch`` is the pure judgement the worker's offset watch applies every few
seconds; ``Continuity`` the one each stage applies to every message, for the dropped message that is followed by
another of its partition (Faust commits over it, so it leaves no lag). The Faust side (reading the books,
committing, seeking) lives in ``pipeline/watch.py``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)


def processed_to(start: int, committed: int | None) -> int:
    """Where a group's processing of a partition stands in Kafka's books: its committed offset. What retention
    deleted is no one's backlog: a group without a commit, or with one older than the log's start, begins at the
    start (auto_offset_reset earliest)."""
    return max(committed or 0, start)


@dataclass(frozen=True)
class PartitionState:
    """One assigned partition, from both books."""

    start: int
    """The log's first offset (retention may have deleted what came before)."""
    end: int
    """The offset the next message written will get."""
    committed: int | None
    """The group's committed offset in Kafka (the next message to process); None when it never committed."""
    local: int | None
    """The committed offset the worker believes it has; None when it has not committed since its assignment."""
    position: int | None
    """The next offset the worker will fetch; None when unknown."""
    busy: bool
    """A stage holds messages of this partition: waiting in a stream's buffer, or pulled and not yet acked. (Acked
    and not yet committed is not busy: Faust commits those within a second, and acks it cannot commit, behind a
    hole, are one of the stuck states.)"""

    @property
    def done(self) -> int:
        return processed_to(self.start, self.committed)

    @property
    def behind(self) -> int:
        return max(0, self.end - self.done)


@dataclass(frozen=True)
class Repair(Generic[K]):
    partition: K
    action: Literal["commit", "seek"]
    """``commit``: the worker processed up to ``offset`` and its commit never reached Kafka; commit it again.
    ``seek``: the worker fetched past messages no stage ever acked; fetch again from ``offset``."""
    offset: int
    behind: int
    idle_seconds: float


class StuckWatch(Generic[K]):
    """Finds partitions that have been behind, with nothing of theirs in hand, for ``after`` seconds.

    A partition is left alone while it is not behind, while a stage holds one of its messages (progress will come),
    and while the worker has not fetched past Kafka's committed offset (the fetch is still to come). Otherwise it
    is *idle*; once it has stayed idle, with both books unchanged, for ``after`` seconds, ``check`` returns one
    repair for it, and another only after a further ``after`` seconds. ``after`` must exceed the longest a stage
    may take over one batch (a commit that is merely late is not stuck); a repair that comes too early costs a
    message processed twice, which every stage tolerates (at-least-once), never a lost one."""

    def __init__(self, after: float) -> None:
        if not after > 0:
            raise ValueError(f"after must be positive, not {after}")
        self.after = after
        self._idle: dict[K, tuple[tuple[int | None, int | None], float]] = {}

    def check(self, states: Mapping[K, PartitionState], now: float) -> list[Repair[K]]:
        for gone in set(self._idle) - set(states):
            del self._idle[gone]  # revoked: another worker's books now
        repairs: list[Repair[K]] = []
        for key, s in states.items():
            ahead = s.local is not None and s.local > s.done
            fetching = s.position is not None and s.position <= s.done
            if s.behind == 0 or s.busy or (fetching and not ahead):
                self._idle.pop(key, None)
                continue
            books = (s.committed, s.local)
            seen = self._idle.get(key)
            if seen is None or seen[0] != books:
                self._idle[key] = (books, now)
                continue
            idle = now - seen[1]
            if idle < self.after:
                continue
            if ahead:
                assert s.local is not None
                repairs.append(Repair(key, "commit", min(s.local, s.end), s.behind, idle))
            else:
                repairs.append(Repair(key, "seek", s.done, s.behind, idle))
            self._idle[key] = (books, now)
        return repairs


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
    Faust would commit over a hole of one such message once the next is acked (``_new_offset`` allows a gap of
    1), leaving no lag for ``StuckWatch`` to see; this is how the stage sees it instead.

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
