"""send_alerts: dispute changes -> alerts (news.alerts.v1) delivered once to the configured sinks."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline import topics as names
from pipeline.alerts import AlertDedupe, alert_from_change
from pipeline.alerts.core import QUIET_CHANGES
from pipeline.alerts.runtime import AlertPlanner, build_sinks, deliver_all, still_to_deliver
from pipeline.alerts.sinks import Sink
from pipeline.app import (
    alerts_topic,
    app,
    dead_lettered_by_stage,
    dlq_topic,
    json_table,
    reject,
    send_to_dlq,
    settings,
)
from pipeline.disputes import DisputeChange
from pipeline.errors import NewsriftError
from pipeline.streaming import decode, encode, log_event

log = logging.getLogger("newsrift.alerts")
# Keyed "<sink>\x1f<alert_id>"; written while handling a dispute_id-keyed message, so co-partitioned with it.
alerts_sent = json_table("alerts-by-id")
# Marks outlive the disputes table's state twice over: claims replayed after an event's state was dropped rebuild
# the same dispute changes, and their alerts are still recognised as sent. Pruned every tenth of that, at most hourly.
_KEEP_MARKS = timedelta(seconds=2 * settings.dispute_retention_seconds)
_PRUNE_EVERY = min(timedelta(hours=1), _KEEP_MARKS / 10)
_delivery = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alerts")


@app.agent(app.topic(settings.topic(names.DISPUTES), key_type=bytes, value_type=bytes))
async def send_alerts(stream: Any) -> None:
    sinks = build_sinks(settings)
    planner = AlertPlanner(settings.watchlist)
    dedupe = AlertDedupe(alerts_sent, keep_for=_KEEP_MARKS, prune_every=_PRUNE_EVERY)
    async for event in stream.events():
        partition = event.message.partition
        # Deletes go to the changelog partition of the message in hand: prune only the marks written on it.
        pruned = dedupe.prune_due(datetime.now(timezone.utc), partition)
        if pruned:
            log_event(log, "alert_marks_pruned", partition=partition, count=pruned)
        try:
            await _handle(event, partition, sinks, planner, dedupe)
        except Exception as e:  # one bad change must not stop every later alert
            await reject("send_alerts", event, e)


async def _handle(event: Any, partition: int, sinks: list[Sink], planner: AlertPlanner, dedupe: AlertDedupe) -> None:
    """One dispute change: the alert record once, then delivery to every planned sink not yet marked."""
    try:
        change = decode(event.value, DisputeChange.from_json)
    except NewsriftError as e:
        await send_to_dlq("send_alerts", event, e)
        return
    if change.change in QUIET_CHANGES:
        return
    alert = alert_from_change(change)
    plan = planner.plan(alert, [s.name for s in sinks])
    if dedupe.first_time(alert.alert_id, "topic", partition=partition):
        await alerts_topic.send(key=alert.alert_id.encode(), value=encode(plan.record))
    targets = still_to_deliver(dedupe, alert, sinks, plan.sinks)  # replayed changes too: see its docstring
    if not targets:
        return
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(_delivery, deliver_all, targets, alert)
    # Faust tables take writes only on the agent's task (they need the current event), so marks come back here.
    for sink_name, status in outcome.results.items():
        dedupe.mark(alert.alert_id, status, sink_name, partition=partition)
    for sink_name, error in outcome.dead.items():
        dead_lettered_by_stage["send_alerts"] += 1
        await dlq_topic(settings.topic(names.ALERTS)).send(
            key=alert.alert_id.encode(),
            value=encode({"stage": "send_alerts", "sink": sink_name, "error": error, "alert": alert.to_json()}),
        )
    log_event(log, "alert", alert_id=alert.alert_id, change=alert.change, kind=alert.kind,
              results=",".join(f"{k}:{v}" for k, v in outcome.results.items()))
