"""The worker: one Faust app with every stage, the indexer, the alert retrier and ``GET /health``,
built from settings (``build``). ``newsrift worker`` runs what ``build`` returns."""

from __future__ import annotations

import logging

from newsrift.runtime import web
from newsrift.runtime.indexer import IndexerState
from newsrift.runtime.logfilter import held_everywhere
from newsrift.runtime.runner import Runtime
from newsrift.settings import Settings
from newsrift.stages.alerts import agent as alerts
from newsrift.stages.disputes import agent as disputes
from newsrift.stages.events import agent as events
from newsrift.stages.index import agent as index
from newsrift.stages.normalize import agent as normalize
from newsrift.streaming import log_event

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
