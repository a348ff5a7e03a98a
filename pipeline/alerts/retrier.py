"""The retrier: delivers the alerts on ``news.alerts.retry.v1`` when they are due (``pipeline/alerts/retry.py``).

It runs in a thread of the worker with a Kafka consumer of its own (group ``<app id>-alert-retries``), not as a
Faust agent, because it waits: a Faust agent that sleeps on a record fills its buffer, and a full buffer stops the
worker's fetching of every topic. Here a record that is not due yet only pauses its own partition; the consumer keeps
polling (heartbeats, rebalances) and the other partitions keep going.

Each record's offset is committed, synchronously, once what follows it is in Kafka: the next retry or the dead
letter is sent and acknowledged first, so a crash or a stop anywhere before the commit re-reads the record, and
nothing is lost. What a re-read can repeat is a delivery whose commit did not happen (receivers drop it by the
Idempotency-Key). On stop, records held for their due time are simply left uncommitted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from newsrift.settings import Settings
from pipeline import topics as names
from pipeline.alerts.model import Alert
from pipeline.alerts.retry import Decision, Retry, RetryPolicy, decide
from pipeline.alerts.runtime import deliver_all
from pipeline.alerts.sinks import Sink
from pipeline.errors import MessageError, NewsriftError
from pipeline.streaming import dead_letter, decode, encode, log_event

log = logging.getLogger("newsrift.alerts")

_SEND_TIMEOUT = 60.0
"""Seconds to wait for Kafka to acknowledge the next retry or a dead letter before the record is tried again."""


def alert_dead_letter(alert_id: str, sink: str, error: str, alert: dict[str, Any]) -> dict[str, Any]:
    """A dead-lettered alert in the shape ``newsrift dlq replay`` delivers again to ``sink``."""
    return {"stage": "send_alerts", "sink": sink, "error": error, "alert": alert}


class AlertRetrier:
    """``run(stop)`` until ``stop`` is set. ``on_dead_letter`` is called with the stage name for each dead letter
    (the worker counts them for /health)."""

    def __init__(self, settings: Settings, sinks: list[Sink], policy: RetryPolicy,
                 on_dead_letter: Callable[[str], None] = lambda stage: None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.settings = settings
        self.sinks = {s.name: s for s in sinks}
        self.policy = policy
        self.topic = settings.topic(names.ALERT_RETRY)
        self.alerts_dlq = settings.topic(names.dlq(names.ALERTS))
        self.retry_dlq = settings.topic(names.dlq(names.ALERT_RETRY))
        self.on_dead_letter = on_dead_letter
        self.clock = clock
        self.group_id = settings.app_id + names.RETRY_GROUP_SUFFIX

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._run(stop)
            except Exception as e:  # Kafka unreachable at start, or a bug: log it, wait, start over
                log.error("event=alert_retrier_error error_type=%s error=%s", type(e).__name__, str(e)[:300],
                          exc_info=not isinstance(e, NewsriftError))
                stop.wait(5.0)

    def _run(self, stop: threading.Event) -> None:
        consumer = KafkaConsumer(
            self.topic, bootstrap_servers=self.settings.kafka_bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=10,
        )
        producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all", retries=5,
                                 max_block_ms=int(_SEND_TIMEOUT * 1000))
        held: dict[TopicPartition, tuple[Any, Retry]] = {}  # per partition, its first record, not due yet
        try:
            while not stop.is_set():
                batch = consumer.poll(timeout_ms=500)
                assigned = consumer.assignment()
                for tp in [tp for tp in held if tp not in assigned]:
                    del held[tp]  # revoked: its new owner reads it again from the committed offset
                for tp, messages in batch.items():
                    for i, msg in enumerate(messages):
                        if stop.is_set():
                            return
                        retry = self._parse(producer, msg)
                        if retry is None:
                            self._commit(consumer, tp, msg.offset)
                            continue
                        if retry.due > self.clock():
                            # Wait for it without reading further on this partition; re-read the rest later.
                            held[tp] = (msg, retry)
                            consumer.pause(tp)
                            if i + 1 < len(messages):
                                consumer.seek(tp, messages[i + 1].offset)
                            break
                        self._settle(consumer, producer, tp, msg, retry)
                now = self.clock()
                for tp, (msg, retry) in sorted(held.items(), key=lambda kv: kv[1][1].due):
                    if stop.is_set():
                        return
                    if retry.due <= now:
                        del held[tp]
                        self._settle(consumer, producer, tp, msg, retry)
                        consumer.resume(tp)
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=5)

    def _parse(self, producer: KafkaProducer, msg: Any) -> Retry | None:
        """The record, or None once a malformed one is dead-lettered (to the retry topic's own .dlq)."""
        try:
            return decode(msg.value, Retry.from_json)
        except MessageError as e:
            env = dead_letter(stage="retry_alerts", topic=msg.topic, partition=msg.partition, offset=msg.offset,
                              key=msg.key, value=msg.value, error=e)
            producer.send(self.retry_dlq, key=msg.key, value=encode(env)).get(timeout=_SEND_TIMEOUT)
            self.on_dead_letter("retry_alerts")
            log_event(log, "dead_lettered", logging.WARNING, stage="retry_alerts", topic=msg.topic,
                      partition=msg.partition, offset=msg.offset, error=str(e)[:300])
            return None

    def _settle(self, consumer: KafkaConsumer, producer: KafkaProducer, tp: TopicPartition, msg: Any,
                retry: Retry) -> None:
        """Try the sink once, publish what follows (acknowledged), then commit the record."""
        decision = self.attempt(retry)
        alert_id = str(retry.alert.get("alert_id"))
        if decision.action == "next":
            assert decision.record is not None
            producer.send(self.topic, key=msg.key, value=encode(decision.record.to_json())).get(timeout=_SEND_TIMEOUT)
            log_event(log, "alert_retry_scheduled", logging.WARNING, alert_id=alert_id, sink=retry.sink,
                      attempt=decision.record.attempt, due=decision.record.due.isoformat(),
                      error=decision.record.error[:200])
        elif decision.action == "dead":
            producer.send(self.alerts_dlq, key=alert_id.encode(),
                          value=encode(alert_dead_letter(alert_id, retry.sink, decision.reason, retry.alert)),
                          ).get(timeout=_SEND_TIMEOUT)
            self.on_dead_letter("retry_alerts")
            log_event(log, "alert_dead_lettered", logging.ERROR, alert_id=alert_id, sink=retry.sink,
                      error=decision.reason[:300])
        else:
            log_event(log, "alert_retry_delivered", alert_id=alert_id, sink=retry.sink, attempt=retry.attempt)
        self._commit(consumer, tp, msg.offset)

    def attempt(self, retry: Retry) -> Decision:
        """One delivery of a due retry to its sink, and what follows from the answer."""
        sink = self.sinks.get(retry.sink)
        if sink is None:
            return Decision("dead", reason=f"sink {retry.sink!r} is not configured in this worker "
                                           f"(configured: {', '.join(self.sinks) or 'none'})")
        try:
            alert = Alert.from_json(retry.alert)
        except (KeyError, TypeError, ValueError) as e:
            return Decision("dead", reason=f"not an alert: {type(e).__name__}: {e}"[:500])
        outcome = deliver_all([sink], alert, 0)
        error = outcome.retry.get(sink.name) or outcome.dead.get(sink.name, "")
        return decide(retry, delivered=outcome.results.get(sink.name) == "delivered", error=error,
                      retryable=sink.name in outcome.retry, now=self.clock(), policy=self.policy)

    def _commit(self, consumer: KafkaConsumer, tp: TopicPartition, offset: int) -> None:
        consumer.commit({tp: OffsetAndMetadata(offset + 1, "", -1)})


def run_in_thread(retrier: AlertRetrier) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=retrier.run, args=(stop,), name="alert-retrier", daemon=True)
    thread.start()
    return thread, stop


def stop_thread(thread: threading.Thread, stop: threading.Event, timeout: float = 20.0) -> None:
    stop.set()
    deadline = time.monotonic() + timeout
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        log.warning("event=alert_retrier_still_running after=%.0fs (its records stay uncommitted)", timeout)
