"""detect_disputes: claims of an event (news.claims.v1, keyed by event_id) -> dispute changes (news.disputes.v1);
sweep_disputes ticks the events with live disputes."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from newsrift import topics
from newsrift.runtime.runner import Runtime
from newsrift.stages.disputes import DisputeDetector
from newsrift.stages.disputes.step import detect, sweep_tick


def register(rt: Runtime) -> None:
    s = rt.settings
    detector = DisputeDetector(stale_after=timedelta(seconds=s.dispute_stale_seconds),
                               retention=timedelta(seconds=s.dispute_retention_seconds))
    # One JSON state per event, co-partitioned with news.claims.v1 (both keyed by event_id).
    tables = {"disputes": rt.table("disputes-by-event")}
    rt.stage("detect_disputes", topics.CLAIMS, partial(detect, detector), tables)
    rt.timer(s.sweep_seconds, "sweep_disputes", partial(sweep_tick, detector, tables["disputes"], rt.send))
