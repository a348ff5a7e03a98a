"""Stuck partitions: a backlog that no processing will ever clear, and the repair for it.

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
seconds; the Faust side (reading the books, committing, seeking) lives in ``pipeline/watch.py``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)


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
        """Where processing stands in Kafka's books."""
        return max(self.committed or 0, self.start)

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
