"""How a stage's input offsets come to be committed: the one place where a message becomes committable.

Faust commits, for each partition, the offsets its streams acked, up to the first one not acked, every second
(``broker_commit_interval``), every 100 acks (``broker_commit_every``) and before a rebalance or a stop completes
(``stream_wait_empty``: it waits for every message a stream took to be acked). So the commit follows whatever the
ack follows, and newsrift decides when a message is acked, here:

- every stage reads a ``noack()`` stream: Faust acks nothing by itself when the next message is taken;
- ``Outputs`` holds the delivery of everything a message's step sent (and of its dead letter, if it failed);
  ``acked_when_delivered`` waits until Kafka acknowledged each of them (``acks=all``) and only then acks the
  message, through the stream's public ``ack``. A message is therefore committed only once it is handled and its
  outputs are in Kafka; a worker that dies before that leaves the message to be handled again (at least once;
  every output lands on the same ids);
- a stage takes one message (or one batch) at a time and acks in the order it took them, so a partition's acks
  have no gaps unless Faust never handed a message over.

That last case is the one Faust's own rule does not cover: it commits over a gap of one offset at the head of a
partition's acks (faust-streaming 0.15.3, ``Consumer._new_offset``), so a message fetched and never handed to a
stage, followed by another of its partition, can be committed unprocessed. No public setting changes that rule, and
holding the later message's ack back would stall every rebalance (Faust waits for all taken messages to be acked).
``OffsetOrder`` therefore makes sure the message is handled after all: it checks every message against the offset
its partition should be at, through Faust's public API only (the message's own offset, the consumer's
``assignment`` and ``seek_wait``); a message past that offset means the ones between never reached the stage, so
the stage logs the hole (``offset_hole``) and fetches the partition again from it (the pure judgement is
``newsrift.runtime.offsets.Continuity``). The window left: a worker that dies after Faust committed over the hole and
before the fetch from it came back loses the message (its ``offset_hole`` has no ``offset_hole_filled`` in the
log). The first message of a partition after an assignment starts its sequence (Faust sought the partition to its
committed offset), so a message dropped as the very first one of an assignment is not seen here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from newsrift.runtime.offsets import Continuity
from newsrift.streaming import log_event

log = logging.getLogger("newsrift.worker")
HOLE_SEEK_DELAY = 0.05
"""Seconds a stage waits before a seek to a hole: Faust's fetch loop moves its read offset on after handing a message
out, so a seek made while it still hands out a fetch is undone."""


class Outputs:
    """The deliveries a message (or a batch) is waiting for before it may be acked."""

    def __init__(self) -> None:
        self.pending: list[Awaitable[Any]] = []

    def add(self, delivery: Awaitable[Any]) -> None:
        self.pending.append(delivery)

    async def delivered(self) -> None:
        """Wait until Kafka acknowledged every output; raise the first failure (nothing is acked then)."""
        pending, self.pending = self.pending, []
        if pending:
            await asyncio.gather(*pending)


async def acked_when_delivered(stream: Any, events: list[Any], outputs: Outputs) -> None:
    """Ack ``events`` (in the order the stage took them) once ``outputs`` are in Kafka: the commit rule."""
    await outputs.delivered()
    for event in events:
        await stream.ack(event)


class OffsetOrder:
    """The offsets each stage has seen, and the holes it met (counted for ``GET /health``)."""

    def __init__(self) -> None:
        self.continuity: Continuity[tuple[str, str, int]] = Continuity()
        self.counts = {"holes": 0, "holes_lost": 0}

    def forget(self) -> None:
        """Partitions were revoked: what the stages saw no longer tells what comes next."""
        for (stage, topic, partition), start, high in self.continuity.forget():
            self.counts["holes_lost"] += 1
            log_event(log, "offset_hole_unfilled", logging.ERROR, stage=stage, topic=topic, partition=partition,
                      missing_from=start, seen_up_to=high)

    async def see(self, stage: str, event: Any, consumer: Any) -> None:
        """Check a stage's message against the offset its partition should be at. On a hole: log it and fetch the
        partition again from the hole's start, so the missing messages reach the stage (the ones after come a
        second time); log when its first message came (``offset_hole_filled``) or that it cannot come
        (``offset_hole_lost``). Never raises."""
        try:
            msg = event.message
            key = (stage, msg.topic, msg.partition)
            gap = self.continuity.see(key, msg.offset)
            if gap is None:
                return
            where = {"stage": stage, "topic": msg.topic, "partition": msg.partition}
            if gap.action == "filled":
                log_event(log, "offset_hole_filled", **where, offset=gap.start, seeks=gap.seeks)
            elif gap.action == "lost":
                self.counts["holes_lost"] += 1
                log_event(log, "offset_hole_lost", logging.ERROR, **where, missing=f"{gap.start}-{gap.at - 1}",
                          seeks=gap.seeks)
            else:
                if gap.first:
                    self.counts["holes"] += 1
                    log_event(log, "offset_hole", logging.WARNING, **where, missing=f"{gap.start}-{gap.at - 1}",
                              at=gap.at)
                if msg.tp in consumer.assignment():
                    await asyncio.sleep(HOLE_SEEK_DELAY)
                    await consumer.seek_wait({msg.tp: gap.start})
        except Exception as e:  # a check must never fail the message in hand
            log_event(log, "offset_hole_check_failed", logging.WARNING, stage=stage, error_type=type(e).__name__,
                      error=str(e)[:300])

    def install(self, app: Any) -> None:
        """Forget the stages' offsets whenever partitions are revoked (Faust's public signal)."""

        def forget(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.forget()

        app.on_partitions_revoked.connect(forget)
