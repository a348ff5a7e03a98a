"""detect_disputes: claims of an event (news.claims.v1, keyed by event_id) -> dispute changes (news.disputes.v1);
sweep_disputes ticks the events with live disputes."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from pipeline import topics
from pipeline.disputes import DisputeDetector
from pipeline.disputes.step import detect, sweep_tick
from pipeline.runner import Runtime


def register(rt: Runtime) -> None:
    s = rt.settings
    detector = DisputeDetector(stale_after=timedelta(seconds=s.dispute_stale_seconds),
                               retention=timedelta(seconds=s.dispute_retention_seconds))
    # One JSON state per event, co-partitioned with news.claims.v1 (both keyed by event_id).
    tables = {"disputes": rt.table("disputes-by-event")}
    rt.stage("detect_disputes", topics.CLAIMS, partial(detect, detector), tables)
    rt.timer(s.sweep_seconds, "sweep_disputes", partial(sweep_tick, detector, tables["disputes"], rt.send))
