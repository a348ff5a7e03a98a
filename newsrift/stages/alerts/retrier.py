"""The retrier: delivers the alerts on ``news.alerts.retry.v1`` when they are due (``newsrift/stages/alerts/retry.py``).

It runs in a thread of the worker with a Kafka consumer of its own (group ``<app id>-alert-retries``), not as a
Faust agent, because it waits: a Faust agent that sleeps on a record fills its buffer, and a full buffer stops the
worker's fetching of every topic. Here a record that is not due yet only pauses its own partition; the consumer keeps
polling (heartbeats, rebalances) and the other partitions keep going.

Each record's offset is committed, synchronously, once what follows it is in Kafka: the next retry or the dead
letter is sent and acknowledged first, so a crash or a stop anywhere before the commit re-reads the record, and
nothing is lost. What a re-read can repeat is a delivery whose commit did not happen (receivers drop it by the
Idempotency-Key). On stop, records held for their due time are simply left uncommitted. Within one process a
record read again (a commit that failed after its next retry was sent, a group membership lost and regained) is
recognised by ``SettledAttempts`` and skipped, so a retry chain does not split in two.

A record that keeps failing for a reason that is not the sink's (a bug, a message Kafka refuses) is dead-lettered
to the retry topic's ``.dlq`` after ``_MAX_FAILURES`` tries, so its partition moves on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from newsrift import messages
from newsrift import topics as names
from newsrift.errors import MessageError, NewsriftError
from newsrift.messages import AlertRetryMessage
from newsrift.records import Retry
from newsrift.settings import Settings
from newsrift.stages.alerts.model import Alert
from newsrift.stages.alerts.retry import Decision, RetryPolicy, SettledAttempts, alert_dead_letter, decide
from newsrift.stages.alerts.runtime import deliver_all
from newsrift.stages.alerts.sinks import AlertSink
from newsrift.streaming import FailureCounts, Restarts, dead_letter, encode, log_event

log = logging.getLogger("newsrift.alerts")

_SEND_TIMEOUT = 10.0
"""Seconds to wait for Kafka to take (``max_block_ms``) and then acknowledge the next retry or a dead letter; also
the commit's. Short enough that a stop is not held long (``stop_thread`` waits 30 s)."""
_API_VERSION = (3, 6)
"""Given, so that the clients' constructors do not connect: a constructor that fails to reach the broker has
already started its IO thread and leaves it running (seen: one thread and 4 descriptors per failed start)."""
_MAX_FAILURES = 5


class AlertRetrier:
    """``run(stop)`` until ``stop`` is set. ``on_dead_letter`` is called with the stage name for each dead letter
    (the worker counts them for /health)."""

    def __init__(self, settings: Settings, sinks: list[AlertSink], policy: RetryPolicy,
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
        self.handled = SettledAttempts()
        self._failures: FailureCounts[tuple[str, int, int]] = FailureCounts(_MAX_FAILURES)  # (topic, part., offset)
        self.restarts = Restarts()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._run(stop)
            except Exception as e:  # Kafka unreachable, or a bug: log it, back off, start over
                pause = self.restarts.next()
                log.error("event=alert_retrier_error error_type=%s error=%s retry_in=%.0fs", type(e).__name__,
                          str(e)[:300], pause, exc_info=not isinstance(e, (NewsriftError, KafkaError)))
                stop.wait(pause)

    def _run(self, stop: threading.Event) -> None:
        consumer = producer = None
        try:
            consumer = KafkaConsumer(
                self.topic, bootstrap_servers=self.settings.kafka_bootstrap, group_id=self.group_id,
                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=10,
                api_version=_API_VERSION,
            )
            producer = KafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all", retries=5,
                                     max_block_ms=int(_SEND_TIMEOUT * 1000), api_version=_API_VERSION)
            self._loop(stop, consumer, producer)
        finally:
            if consumer is not None:
                consumer.close(autocommit=False, timeout_ms=5000)
            if producer is not None:
                producer.close(timeout=5)

    def _loop(self, stop: threading.Event, consumer: KafkaConsumer, producer: KafkaProducer) -> None:
        held: dict[TopicPartition, tuple[Any, Retry]] = {}  # per paused partition, its first record, not due yet
        while not stop.is_set():
            batch = consumer.poll(timeout_ms=500)
            paused = consumer.paused()
            for tp in [tp for tp in held if tp not in paused]:
                # Revoked, or lost and assigned afresh (unpaused, back at the committed offset): read it again.
                del held[tp]
            for tp, records in batch.items():
                for i, msg in enumerate(records):
                    if stop.is_set():
                        return
                    retry = self._parse(producer, msg)
                    if retry is None or self.handled.settled(retry):
                        self._commit(consumer, tp, msg.offset)
                        continue
                    if retry.due > self.clock():
                        # Wait for it without reading further on this partition; re-read the rest later.
                        held[tp] = (msg, retry)
                        consumer.pause(tp)
                        if i + 1 < len(records):
                            consumer.seek(tp, records[i + 1].offset)
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

    def _parse(self, producer: KafkaProducer, msg: Any) -> Retry | None:
        """The record, or None once a malformed one is dead-lettered (to the retry topic's own .dlq)."""
        try:
            return messages.ALERT_RETRY(msg.value).retry
        except MessageError as e:
            self._dead_letter_raw(producer, msg, e)
            return None

    def _dead_letter_raw(self, producer: KafkaProducer, msg: Any, error: BaseException | str) -> None:
        env = dead_letter(stage="retry_alerts", topic=msg.topic, partition=msg.partition, offset=msg.offset,
                          key=msg.key, value=msg.value, error=error)
        producer.send(self.retry_dlq, key=msg.key, value=encode(env)).get(timeout=_SEND_TIMEOUT)
        self.on_dead_letter("retry_alerts")
        log_event(log, "dead_lettered", logging.WARNING, stage="retry_alerts", topic=msg.topic,
                  partition=msg.partition, offset=msg.offset, error=str(error)[:300])

    def _settle(self, consumer: KafkaConsumer, producer: KafkaProducer, tp: TopicPartition, msg: Any,
                retry: Retry) -> None:
        """Try the sink once, publish what follows (acknowledged), then commit the record. A record whose settling
        raised ``_MAX_FAILURES`` times goes to the retry topic's dead letters instead."""
        where = (msg.topic, msg.partition, msg.offset)
        if self._failures.reached(where):
            self._dead_letter_raw(producer, msg, f"settling it failed {_MAX_FAILURES} times; see the worker log")
            self._failures.forget([where])
            self._commit(consumer, tp, msg.offset)
            return
        try:
            self._settle_once(consumer, producer, tp, msg, retry)
        except Exception as e:
            if not isinstance(e, KafkaError):  # Kafka being away is no fault of the record's
                self._failures.add([where])
            raise
        self._failures.forget([where])

    def _settle_once(self, consumer: KafkaConsumer, producer: KafkaProducer, tp: TopicPartition, msg: Any,
                     retry: Retry) -> None:
        decision = self.attempt(retry)
        alert_id = str(retry.alert.get("alert_id"))
        if decision.action == "next":
            assert decision.record is not None
            producer.send(self.topic, key=msg.key,
                          value=messages.encode(AlertRetryMessage(decision.record))).get(timeout=_SEND_TIMEOUT)
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
        self.handled.add(retry, final=decision.action != "next")
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
        try:
            outcome = deliver_all([sink], alert, 0)
        except Exception as e:  # not a DeliveryError: a sink bug or a setting it cannot use; retried until give-up
            log.warning("event=alert_sink_error sink=%s error_type=%s error=%s", sink.name, type(e).__name__,
                        str(e)[:300], exc_info=True)
            return decide(retry, delivered=False, error=f"{type(e).__name__}: {e}"[:1000], retryable=True,
                          now=self.clock(), policy=self.policy)
        error = outcome.retry.get(sink.name) or outcome.dead.get(sink.name, "")
        return decide(retry, delivered=outcome.results.get(sink.name) == "delivered", error=error,
                      retryable=sink.name in outcome.retry, now=self.clock(), policy=self.policy)

    def _commit(self, consumer: KafkaConsumer, tp: TopicPartition, offset: int) -> None:
        consumer.commit({tp: OffsetAndMetadata(offset + 1, "", -1)}, timeout_ms=int(_SEND_TIMEOUT * 1000))
        self.restarts.reset()  # progress: the next failure waits a second again


def run_in_thread(retrier: AlertRetrier) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=retrier.run, args=(stop,), name="alert-retrier", daemon=True)
    thread.start()
    return thread, stop


def stop_thread(thread: threading.Thread, stop: threading.Event, timeout: float = 30.0) -> None:
    stop.set()
    thread.join(timeout)
    if thread.is_alive():
        log.warning("event=alert_retrier_still_running after=%.0fs (its records stay uncommitted)", timeout)
