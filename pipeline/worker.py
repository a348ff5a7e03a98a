"""The worker: one Faust app with every stage, the indexer, the alert retrier and ``GET /health``,
built from settings (``build``). ``newsrift worker`` runs what ``build`` returns."""

from __future__ import annotations

import logging

from pipeline import web
from pipeline.alerts import agent as alerts
from pipeline.disputes import agent as disputes
from pipeline.events import agent as events
from pipeline.index import agent as index
from pipeline.index.indexer import IndexerState
from pipeline.logfilter import held_everywhere
from pipeline.normalize import agent as normalize
from pipeline.runner import Runtime
from pipeline.settings import Settings
from pipeline.streaming import log_event

log = logging.getLogger("newsrift.worker")


async def report_held_log_lines() -> None:
    """Repeated broker errors held back by the log filter, reported once the repeats have stopped."""
    for name, level, message, count in held_everywhere():
        log_event(log, "log_lines_held", logging.WARNING, source=name, source_level=logging.getLevelName(level),
                  count=count, message=message[:200])


def build(settings: Settings) -> Runtime:
    rt = Runtime(settings)
    normalize.register(rt)
    events.register(rt)
    disputes.register(rt)
    alerts.register(rt)
    indexer = IndexerState()
    index.register(rt, indexer)
    web.install(rt, indexer)
    rt.timer(30.0, "report_held_log_lines", report_held_log_lines)
    return rt
