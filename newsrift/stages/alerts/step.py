"""The alert step: a dispute change -> an alert (news.alerts.v1), delivered once to each planned sink; what a sink
refuses for now goes to news.alerts.retry.v1, which the retrier (``retrier.py``, a thread of the worker) reads."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import mode

from newsrift import messages, topics
from newsrift.messages import AlertMessage, AlertRetryMessage, DisputeChangeMessage
from newsrift.settings import Settings
from newsrift.stages.alerts import AlertDedupe, alert_from_change
from newsrift.stages.alerts.core import QUIET_CHANGES
from newsrift.stages.alerts.retrier import AlertRetrier, run_in_thread, stop_thread
from newsrift.stages.alerts.retry import RetryPolicy, alert_dead_letter, hand_over
from newsrift.stages.alerts.runtime import AlertPlanner, build_sinks, deliver_all, still_to_deliver
from newsrift.stages.alerts.sinks import AlertSink
from newsrift.stages.context import Context
from newsrift.streaming import encode, log_event

log = logging.getLogger("newsrift.alerts")
STAGE = "send_alerts"


class AlertStep:
    """Table ``sent``: marks keyed ``<sink>\\x1f<alert_id>``, written while handling a dispute_id-keyed message, so
    co-partitioned with it. Marks outlive the dispute stage's state twice over: claims replayed after an event's
    state was dropped rebuild the same dispute changes, and their alerts are still recognised as sent. They are
    pruned every tenth of that, at most hourly."""

    def __init__(self, settings: Settings, policy: RetryPolicy, on_dead_letter: Callable[[str], None]) -> None:
        self.sinks: list[AlertSink] = build_sinks(settings)
        self.planner = AlertPlanner(settings.watchlist)
        self.policy, self.on_dead_letter = policy, on_dead_letter
        self.keep = timedelta(seconds=2 * settings.dispute_retention_seconds)
        self.prune_every = min(timedelta(hours=1), self.keep / 10)
        self.delivery = ThreadPoolExecutor(max_workers=2, thread_name_prefix="alerts")
        self._dedupe: AlertDedupe | None = None

    def dedupe(self, ctx: Context) -> AlertDedupe:
        if self._dedupe is None:
            self._dedupe = AlertDedupe(ctx.tables["sent"], keep_for=self.keep, prune_every=self.prune_every)
        return self._dedupe

    async def prune(self, ctx: Context) -> None:
        """Before every message of a partition, whatever it holds: marks past their time go. Deletes go to the
        changelog partition of the message in hand, so only the marks written on it are pruned."""
        pruned = self.dedupe(ctx).prune_due(datetime.now(timezone.utc), ctx.partition)
        if pruned:
            log_event(log, "alert_marks_pruned", partition=ctx.partition, count=pruned)

    async def __call__(self, ctx: Context, message: DisputeChangeMessage) -> None:
        """One dispute change: the alert record once, then delivery to every planned sink not yet marked."""
        dedupe, partition = self.dedupe(ctx), ctx.partition
        if message.change.change in QUIET_CHANGES:
            return
        alert = alert_from_change(message.change)
        key = alert.alert_id.encode()
        plan = self.planner.plan(alert, [s.name for s in self.sinks])
        if dedupe.first_time(alert.alert_id, "topic", partition=partition):
            await ctx.send(topics.ALERTS, key, messages.encode(AlertMessage(plan.record)))
        targets = still_to_deliver(dedupe, alert, self.sinks, plan.sinks)  # replayed changes too: see its docstring
        if not targets:
            return
        outcome = await asyncio.get_running_loop().run_in_executor(self.delivery, deliver_all, targets, alert)
        # The retry or dead-letter record is sent before the sink's mark is written: a mark without it would be a
        # lost alert, while it without a mark only repeats the delivery pass when the change is replayed.
        retries, no_retry = hand_over(outcome.retry, alert.to_json(), datetime.now(timezone.utc), self.policy)
        for retry in retries:
            # Awaited until Kafka acknowledges it: the mark below must not outrun it.
            await ctx.send(topics.ALERT_RETRY, key, messages.encode(AlertRetryMessage(retry)), wait=True)
            log_event(log, "alert_retry_scheduled", logging.WARNING, alert_id=alert.alert_id, sink=retry.sink,
                      attempt=retry.attempt, due=retry.due.isoformat(), error=retry.error[:200])
        for sink_name, error in (outcome.dead | no_retry).items():  # no_retry: NEWSRIFT_ALERT_RETRY_GIVE_UP_SECONDS=0
            # Dead-lettered for this sink, and awaited until Kafka has it (the sink's mark comes after).
            self.on_dead_letter(STAGE)
            log_event(log, "alert_dead_lettered", logging.ERROR, alert_id=alert.alert_id, sink=sink_name,
                      error=error[:300])
            await ctx.send(topics.dlq(topics.ALERTS), key,
                           encode(alert_dead_letter(alert.alert_id, sink_name, error, alert.to_json())), wait=True)
            outcome.results[sink_name] = "dead_lettered"
        # Faust tables take writes only on the stage's task (they need the current event), so marks come back here.
        for sink_name, status in outcome.results.items():
            dedupe.mark(alert.alert_id, status, sink_name, partition=partition)
        log_event(log, "alert", alert_id=alert.alert_id, change=alert.change, kind=alert.kind,
                  results=",".join(f"{k}:{v}" for k, v in outcome.results.items()))


def retrier_service(settings: Settings, policy: RetryPolicy, on_dead_letter: Callable[[str], None]) -> Any:
    """The retrier (``newsrift/stages/alerts/retrier.py``) in a thread of the worker, with sinks of its own."""

    class RetryAlerts(mode.Service):
        _thread: threading.Thread | None = None  # None until on_start succeeded
        _stop: threading.Event

        async def on_start(self) -> None:
            retrier = AlertRetrier(settings, build_sinks(settings), policy, on_dead_letter=on_dead_letter)
            self._thread, self._stop = run_in_thread(retrier)

        async def on_stop(self) -> None:
            if self._thread is not None:
                await asyncio.get_running_loop().run_in_executor(None, stop_thread, self._thread, self._stop)

    return RetryAlerts
