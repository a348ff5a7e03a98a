"""The worker's offset watch: every ``offset_check_seconds``, each assigned stage partition is read from Kafka's
books and from Faust's, and ``pipeline.offsets.StuckWatch`` decides which ones are stuck; a stuck partition gets its
commit sent again or is fetched again from its committed offset, and each repair is logged (``offsets_repaired``).
And every stage passes each message through ``OffsetChecks.note``: a message past the offset its partition should
be at reveals a hole, which Faust would commit over without a trace; the partition is fetched again from the hole.

This module reaches into the Faust consumer's own books (``_committed_offset``, ``_unacked_messages``, the stream
buffers): they are what goes wrong, and faust-streaming is pinned to the version these names were read from."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import mode

from pipeline.lag import PartitionOffsets, admin_client, partition_offsets
from pipeline.offsets import Continuity, PartitionState, Repair, StuckWatch
from pipeline.settings import Settings
from pipeline.streaming import log_event
from pipeline.topics import readers

log = logging.getLogger("newsrift.worker")
Key = tuple[str, int]
HOLE_SEEK_DELAY = 0.05
"""Seconds a stage waits before a seek to a hole (see ``OffsetChecks.note``)."""


class OffsetChecks:
    """The offset watch's state in one worker: the stuck-partition judge, the offsets each stage saw, and the
    counts ``GET /health`` reports."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.watch: StuckWatch[Key] = StuckWatch(settings.stuck_offset_seconds)
        self.checks = {"done": 0, "failed": 0, "repaired": 0, "holes": 0, "holes_lost": 0}
        """How often the watch ran, failed to read the books, and repaired a partition; how many holes the stages
        met, and how many of them could not be filled; since the worker started."""
        self.continuity: Continuity[tuple[str, str, int]] = Continuity()

    def forget(self) -> None:
        """Partitions were revoked: what the stages saw no longer tells what comes next."""
        for (stage, topic, partition), start, high in self.continuity.forget():
            # The fetch from the hole had not come back when the partition was taken away: its messages are lost
            # unless this worker or another fetches them again (Faust may have committed over them).
            self.checks["holes_lost"] += 1
            log_event(log, "offset_hole_unfilled", logging.ERROR, stage=stage, topic=topic, partition=partition,
                      missing_from=start, seen_up_to=high)

    async def note(self, stage: str, event: Any, consumer: Any) -> None:
        """Check a stage's message against the offset its partition should be at (``Continuity``). On a hole: log
        it (``offset_hole``) and fetch the partition again from the hole's start, so the missing messages reach the
        stage (the ones after them come a second time), and log when its first message came
        (``offset_hole_filled``) or that it cannot come (``offset_hole_lost``). The first message after an
        assignment is judged against the committed offset Faust sought to; where Faust has none (never committed,
        or committed 0) it is not judged. ``consumer``: Faust's. Never raises."""
        try:
            msg = event.message
            tp = msg.tp
            key = (stage, msg.topic, msg.partition)
            first = None if self.continuity.knows(key) else consumer._committed_offset.get(tp)
            gap = self.continuity.see(key, msg.offset, first)
            if gap is None:
                return
            where = {"stage": stage, "topic": msg.topic, "partition": msg.partition}
            if gap.action == "filled":
                log_event(log, "offset_hole_filled", **where, offset=gap.start, seeks=gap.seeks)
            elif gap.action == "lost":
                self.checks["holes_lost"] += 1
                log_event(log, "offset_hole_lost", logging.ERROR, **where, missing=f"{gap.start}-{gap.at - 1}",
                          seeks=gap.seeks)
            else:
                if gap.first:
                    self.checks["holes"] += 1
                    log_event(log, "offset_hole", logging.WARNING, **where, missing=f"{gap.start}-{gap.at - 1}",
                              at=gap.at)
                if tp in consumer.assignment():
                    # Let Faust's fetch loop finish handing out this message (it moves its read offset on after),
                    # so the seek is not undone at once.
                    await asyncio.sleep(HOLE_SEEK_DELAY)
                    await consumer.seek_wait({tp: gap.start})
        except Exception as e:  # a check must never fail the message in hand
            log_event(log, "offset_hole_check_failed", logging.WARNING, stage=stage, error_type=type(e).__name__,
                      error=str(e)[:300])

    async def check(self, app: Any, books: Books) -> None:
        """One look at both books, and the repairs it calls for. Never raises: a watch that cannot read the books
        this time tries again at the next tick."""
        try:
            consumer: Any = app.consumer  # Faust's aiokafka Consumer: its books are not on the ConsumerT interface
            if consumer.should_stop or app.rebalancing or not consumer.flow_active:
                return  # stopping, or between assignments: the books are being put away or rewritten
            topics = set(stage_topics(self.settings))
            assigned = [tp for tp in consumer.assignment() if tp.topic in topics]
            if not assigned:
                return
            positions: dict[Key, int | None] = {}
            for tp in assigned:
                positions[(tp.topic, tp.partition)] = await consumer.position(tp)
            kafka = await asyncio.to_thread(books.read, sorted(topics))
            if kafka is None:
                return
            for fix in self.watch.check(states(consumer, app.topics, kafka, positions), time.monotonic()):
                if await repair(consumer, fix):
                    self.checks["repaired"] += 1
            if self.checks["done"] == 0:
                log_event(log, "offset_watch_started", partitions=len(assigned), after_seconds=self.watch.after)
            self.checks["done"] += 1
        except Exception as e:  # the watch must never take the worker down
            self.checks["failed"] += 1
            log_event(log, "offset_watch_failed", logging.WARNING, error_type=type(e).__name__, error=str(e)[:300])


class Books:
    """Kafka's books for the stage group, through one admin client kept between checks (a client per check would
    log its connection each time), made again after a failure. Its calls block: run them in a thread. Once
    ``close`` began, no client is made again, and ``close`` waits for a read in progress (at most the client's
    5 s request timeout) before it closes the client under it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: Any = None
        self._closing = False

    def read(self, topics: list[str]) -> dict[Key, PartitionOffsets] | None:
        """None once closing."""
        with self._lock:
            if self._closing:
                return None
            if self._client is None:
                self._client = admin_client(self.settings, request_timeout_ms=5000)
            try:
                app_id = self.settings.app_id
                return partition_offsets(self.settings, topics, [app_id], admin=self._client)[app_id]
            except Exception:
                self._drop()
                raise

    def close(self) -> None:
        self._closing = True
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception as e:
                log_event(log, "offset_watch_close_failed", logging.DEBUG, error=str(e)[:200])


def stage_topics(settings: Settings) -> list[str]:
    """The topics the Faust consumer group reads (the indexer and the alert retrier keep their own books)."""
    return sorted({topic for _, topic, group, _ in readers(settings) if group == settings.app_id})


def queued(channels: Any) -> set[Key]:
    """Partitions with events waiting in a stream's buffer: delivered by the consumer, not yet pulled by a stage
    (Faust tracks a message as unacked only once a stream pulls it)."""
    out: set[Key] = set()
    for chan in list(channels):
        buffer = getattr(chan, "_queue", None)  # None until the channel is iterated; ``.queue`` would make one
        for event in list(getattr(buffer, "_queue", ())):
            message = getattr(event, "message", None)
            if message is not None:
                out.add((message.topic, message.partition))
    return out


def states(consumer: Any, channels: Any, books: dict[Key, PartitionOffsets],
           positions: dict[Key, int | None]) -> dict[Key, PartitionState]:
    """Both books side by side for each assigned partition Kafka reported on."""
    held = {(m.tp.topic, m.tp.partition) for m in list(consumer._unacked_messages) if not m.acked}
    held |= queued(channels)
    local = {(tp.topic, tp.partition): offset for tp, offset in list(consumer._committed_offset.items())}
    return {key: PartitionState(start=b.start, end=b.end, committed=b.committed, local=local.get(key),
                                position=positions.get(key), busy=key in held)
            for key, b in books.items() if key in positions}


async def repair(consumer: Any, fix: Repair[Key]) -> bool:
    """Apply one repair, unless the partition changed hands or books since it was judged; True when applied."""
    from faust.types import TP

    tp = TP(*fix.partition)
    if tp not in consumer.assignment():
        return False
    if fix.action == "commit":
        # Faust commits one at a time; a commit of its own in flight may be the one that fixes this.
        if await consumer.maybe_wait_for_commit_to_finish():
            return False
        if (consumer._committed_offset.get(tp) or 0) < fix.offset:
            return False
        if not await consumer._commit({tp: fix.offset}):
            raise RuntimeError(f"Kafka refused the commit of {fix.offset} for {tp.topic}[{tp.partition}]")
    else:
        await consumer.seek_wait({tp: fix.offset})
    log_event(log, "offsets_repaired", logging.WARNING, topic=tp.topic, partition=tp.partition, action=fix.action,
              offset=fix.offset, behind=fix.behind, idle_seconds=round(fix.idle_seconds, 1))
    return True


def install(app: Any, offsets: OffsetChecks) -> None:
    """The watch in a worker: ``OffsetChecks.check`` every ``offset_check_seconds`` (each worker looks after its own
    partitions), and the stages' offsets forgotten when partitions are revoked."""

    class OffsetWatch(mode.Service):
        books: Books

        async def on_start(self) -> None:
            self.books = Books(offsets.settings)

        @mode.Service.timer(offsets.settings.offset_check_seconds)
        async def _tick(self) -> None:
            await offsets.check(app, self.books)

        async def on_stop(self) -> None:
            await asyncio.to_thread(self.books.close)

    def forget(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        offsets.forget()

    app.on_partitions_revoked.connect(forget)
    app.service(OffsetWatch)
