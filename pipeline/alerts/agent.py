"""send_alerts: dispute changes -> alerts (news.alerts.v1) delivered once to the configured sinks.
RetryAlerts: alerts a sink refused for now (news.alerts.retry.v1), tried again when due (``alerts/retrier.py``)."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import mode

from pipeline import messages
from pipeline import topics as names
from pipeline.alerts import AlertDedupe, alert_from_change
from pipeline.alerts.core import QUIET_CHANGES
from pipeline.alerts.retrier import AlertRetrier, run_in_thread, stop_thread
from pipeline.alerts.retry import alert_dead_letter, hand_over
from pipeline.alerts.runtime import AlertPlanner, build_sinks, deliver_all, retry_policy, still_to_deliver
from pipeline.alerts.sinks import Sink
from pipeline.app import (
    alert_retry_topic,
    alerts_topic,
    app,
    dead_lettered_by_stage,
    dlq_topic,
    json_table,
    reject,
    send_to_dlq,
    settings,
)
from pipeline.errors import NewsriftError
from pipeline.messages import AlertMessage, AlertRetryMessage
from pipeline.streaming import encode, log_event
from pipeline.watch import note_offset

log = logging.getLogger("newsrift.alerts")
# Keyed "<sink>\x1f<alert_id>"; written while handling a dispute_id-keyed message, so co-partitioned with it.
alerts_sent = json_table("alerts-by-id")
# Marks outlive the disputes table's state twice over: claims replayed after an event's state was dropped rebuild
# the same dispute changes, and their alerts are still recognised as sent. Pruned every tenth of that, at most hourly.
_KEEP_MARKS = timedelta(seconds=2 * settings.dispute_retention_seconds)
_PRUNE_EVERY = min(timedelta(hours=1), _KEEP_MARKS / 10)
_delivery = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alerts")
_policy = retry_policy(settings)


@app.agent(app.topic(settings.topic(names.DISPUTES), key_type=bytes, value_type=bytes))
async def send_alerts(stream: Any) -> None:
    sinks = build_sinks(settings)
    planner = AlertPlanner(settings.watchlist)
    dedupe = AlertDedupe(alerts_sent, keep_for=_KEEP_MARKS, prune_every=_PRUNE_EVERY)
    async for event in stream.events():
        await note_offset("send_alerts", event)
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
        change = messages.DISPUTES(event.value).change
    except NewsriftError as e:
        await send_to_dlq("send_alerts", event, e)
        return
    if change.change in QUIET_CHANGES:
        return
    alert = alert_from_change(change)
    plan = planner.plan(alert, [s.name for s in sinks])
    if dedupe.first_time(alert.alert_id, "topic", partition=partition):
        await alerts_topic.send(key=alert.alert_id.encode(), value=messages.encode(AlertMessage(plan.record)))
    targets = still_to_deliver(dedupe, alert, sinks, plan.sinks)  # replayed changes too: see its docstring
    if not targets:
        return
    loop = asyncio.get_running_loop()
    outcome = await loop.run_in_executor(_delivery, deliver_all, targets, alert)
    # The retry or dead-letter record is sent before the sink's mark is written: a mark without it would be a lost
    # alert, while it without a mark only repeats the delivery pass when the change is replayed.
    retries, no_retry = hand_over(outcome.retry, alert.to_json(), datetime.now(timezone.utc), _policy)
    for retry in retries:
        # Awaited until Kafka acknowledges it: Faust's send only queues, and the mark below must not outrun it.
        sent = await alert_retry_topic.send(key=alert.alert_id.encode(),
                                            value=messages.encode(AlertRetryMessage(retry)))
        await sent
        log_event(log, "alert_retry_scheduled", logging.WARNING, alert_id=alert.alert_id, sink=retry.sink,
                  attempt=retry.attempt, due=retry.due.isoformat(), error=retry.error[:200])
    for sink_name, error in (outcome.dead | no_retry).items():  # no_retry: NEWSRIFT_ALERT_RETRY_GIVE_UP_SECONDS=0
        await _dead_letter(alert.alert_id, sink_name, error, alert.to_json())
        outcome.results[sink_name] = "dead_lettered"
    # Faust tables take writes only on the agent's task (they need the current event), so marks come back here.
    for sink_name, status in outcome.results.items():
        dedupe.mark(alert.alert_id, status, sink_name, partition=partition)
    log_event(log, "alert", alert_id=alert.alert_id, change=alert.change, kind=alert.kind,
              results=",".join(f"{k}:{v}" for k, v in outcome.results.items()))


async def _dead_letter(alert_id: str, sink_name: str, error: str, alert: dict[str, Any]) -> None:
    """Dead-letter an alert for one sink, and wait until Kafka has it (the sink's mark comes after)."""
    dead_lettered_by_stage["send_alerts"] += 1
    log_event(log, "alert_dead_lettered", logging.ERROR, alert_id=alert_id, sink=sink_name, error=error[:300])
    sent = await dlq_topic(settings.topic(names.ALERTS)).send(
        key=alert_id.encode(), value=encode(alert_dead_letter(alert_id, sink_name, error, alert)))
    await sent


@app.service
class RetryAlerts(mode.Service):
    """The retrier (``pipeline/alerts/retrier.py``) in a thread of the worker, with sinks of its own."""

    _thread: threading.Thread | None = None  # None until on_start succeeded
    _stop: threading.Event

    async def on_start(self) -> None:
        retrier = AlertRetrier(settings, build_sinks(settings), _policy,
                               on_dead_letter=lambda stage: dead_lettered_by_stage.update([stage]))
        self._thread, self._stop = run_in_thread(retrier)

    async def on_stop(self) -> None:
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, stop_thread, self._thread, self._stop)
