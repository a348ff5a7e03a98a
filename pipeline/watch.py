"""The worker's offset watch: every ``offset_check_seconds``, each assigned stage partition is read from Kafka's
books and from Faust's, and ``pipeline.offsets.StuckWatch`` decides which ones are stuck; a stuck partition gets its
commit sent again or is fetched again from its committed offset, and each repair is logged (``offsets_repaired``).

This module reaches into the Faust consumer's own books (``_committed_offset``, ``_unacked_messages``): they are
what goes wrong, and faust-streaming is pinned to the version these names were read from."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import mode

from newsrift.lag import PartitionOffsets, admin_client, partition_offsets
from pipeline.app import app, settings
from pipeline.offsets import PartitionState, Repair, StuckWatch
from pipeline.streaming import log_event
from pipeline.topics import readers

log = logging.getLogger("newsrift.worker")
Key = tuple[str, int]

watch: StuckWatch[Key] = StuckWatch(settings.stuck_offset_seconds)
checks = {"done": 0, "failed": 0, "repaired": 0}
"""How often the watch ran, failed to read the books, and repaired a partition since the worker started."""
_admin: list[Any] = []
"""The watch's one admin client, kept between checks (a client per check would log its connection each time);
dropped after a failed check and made again at the next."""


def read_books(topics: list[str]) -> dict[Key, PartitionOffsets]:
    """Kafka's books for the stage group (blocking: run in a thread)."""
    if not _admin:
        _admin.append(admin_client(settings))
    return partition_offsets(settings, topics, [settings.app_id], admin=_admin[0])[settings.app_id]


def drop_admin() -> None:
    while _admin:
        try:
            _admin.pop().close()
        except Exception as e:
            log_event(log, "offset_watch_close_failed", logging.DEBUG, error=str(e)[:200])


def stage_topics() -> list[str]:
    """The topics the Faust consumer group reads (the indexer and the alert retrier keep their own books)."""
    return sorted({topic for _, topic, group, _ in readers(settings) if group == settings.app_id})


def states(consumer: Any, books: dict[Key, PartitionOffsets], positions: dict[Key, int | None]) -> dict[
        Key, PartitionState]:
    """Both books side by side for each assigned partition Kafka reported on."""
    held = {(m.tp.topic, m.tp.partition) for m in list(consumer._unacked_messages) if not m.acked}
    local = {(tp.topic, tp.partition): offset for tp, offset in list(consumer._committed_offset.items())}
    return {key: PartitionState(start=b.start, end=b.end, committed=b.committed, local=local.get(key),
                                position=positions.get(key), busy=key in held)
            for key, b in books.items() if key in positions}


async def repair(consumer: Any, fix: Repair[Key]) -> None:
    from faust.types import TP

    tp = TP(*fix.partition)
    if fix.action == "commit":
        done = await consumer._commit({tp: fix.offset})
        if not done:
            raise RuntimeError(f"Kafka refused the commit of {fix.offset} for {tp.topic}[{tp.partition}]")
    else:
        await consumer.seek_wait({tp: fix.offset})
    checks["repaired"] += 1
    log_event(log, "offsets_repaired", logging.WARNING, topic=tp.topic, partition=tp.partition, action=fix.action,
              offset=fix.offset, behind=fix.behind, idle_seconds=round(fix.idle_seconds, 1))


async def check_offsets() -> None:
    """One look at both books, and the repairs it calls for. Never raises: a watch that cannot read the books this
    time tries again at the next tick."""
    try:
        consumer = app.consumer
        if consumer.should_stop:
            return  # stopping: its books are being put away
        topics = set(stage_topics())
        assigned = [tp for tp in consumer.assignment() if tp.topic in topics]
        if not assigned:
            return
        positions: dict[Key, int | None] = {}
        for tp in assigned:
            positions[(tp.topic, tp.partition)] = await consumer.position(tp)
        books = await asyncio.to_thread(read_books, sorted(topics))
        found = watch.check(states(consumer, books, positions), time.monotonic())
        for fix in found:
            await repair(consumer, fix)
        if checks["done"] == 0:
            log_event(log, "offset_watch_started", partitions=len(assigned), after_seconds=watch.after)
        checks["done"] += 1
    except Exception as e:  # the watch must never take the worker down
        checks["failed"] += 1
        await asyncio.to_thread(drop_admin)
        log_event(log, "offset_watch_failed", logging.WARNING, error_type=type(e).__name__, error=str(e)[:300])


@app.service
class OffsetWatch(mode.Service):
    """``check_offsets`` every ``offset_check_seconds`` in every worker (each looks after its own partitions)."""

    @mode.Service.timer(settings.offset_check_seconds)
    async def _tick(self) -> None:
        await check_offsets()

    async def on_stop(self) -> None:
        await asyncio.to_thread(drop_admin)
