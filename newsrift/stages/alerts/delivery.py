"""Getting an alert to a sink exactly once: dedupe, per-sink rate limit, retries with backoff, dead letter.

"Never lost, never spammed": a delivered or dead-lettered (sink, alert_id) pair is remembered in a state mapping
(a Faust table in streaming, a dict or file in batch), so replays and restarts deliver nothing twice; a sink that
stays down gets ``retries`` more tries with exponential backoff and then the alert goes to the dead-letter callback
(the agent writes it to ``news.alerts.v1.dlq``). A crash between a successful send and the dedupe write can still
repeat one delivery; receivers can drop it by the Idempotency-Key / Message-ID the sinks send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from newsrift.model import format_time, parse_time
from newsrift.stages.alerts.model import Alert
from newsrift.stages.alerts.sinks import AlertSink, DeliveryError

__all__ = ["AlertDedupe", "DeadLetter", "Deliverer", "DeliveryResult", "RateLimiter"]

log = logging.getLogger(__name__)
DeliveryResult = Literal["delivered", "duplicate", "dead_lettered"]
DeadLetter = Callable[[Alert, str, BaseException], None]
_SEP = "\x1f"


class AlertDedupe:
    """Which (sink, alert id) pairs are done, kept in a JSON-valued mapping so it survives restarts.

    Marks older than ``keep_for`` are forgotten by ``prune`` so the mapping stays bounded in a worker that runs for
    months. In a Faust table a delete must be written on the partition the mark was written on (the changelog
    partition is the current message's), so marks record ``partition`` and ``prune_due`` prunes one partition at a
    time, at most every ``prune_every``, while a message of that partition is being handled.
    """

    def __init__(
        self,
        state: MutableMapping[str, Any],
        *,
        keep_for: timedelta | None = timedelta(days=30),
        prune_every: timedelta = timedelta(hours=1),
    ) -> None:
        self.state = state
        self.keep_for = keep_for
        self.prune_every = prune_every
        self._pruned_at: dict[int | None, datetime] = {}

    @staticmethod
    def _key(sink: str, alert_id: str) -> str:
        return f"{sink}{_SEP}{alert_id}"

    def seen(self, alert_id: str, sink: str = "*") -> bool:
        return self._key(sink, alert_id) in self.state

    def mark(
        self, alert_id: str, outcome: str, sink: str = "*", now: datetime | None = None, partition: int | None = None
    ) -> None:
        # One top-level assignment per mark: that is what a Faust table's changelog records.
        value: dict[str, Any] = {"outcome": outcome, "at": format_time(now or datetime.now(timezone.utc))}
        if partition is not None:
            value["p"] = partition
        self.state[self._key(sink, alert_id)] = value

    def first_time(
        self, alert_id: str, sink: str = "*", now: datetime | None = None, partition: int | None = None
    ) -> bool:
        """True once per alert id (then marks it): the alerts agent uses this to emit each alert once."""
        if self.seen(alert_id, sink):
            return False
        self.mark(alert_id, "emitted", sink, now, partition)
        return True

    def prune(self, now: datetime, partition: int | None = None) -> int:
        """Forget marks older than ``keep_for`` (replays older than that would deliver again); with ``partition``,
        only the marks written on that partition."""
        if self.keep_for is None:
            return 0
        old = [
            k for k, v in self.state.items()
            # Marks from before partitions were recorded go on whichever partition prunes first; should one come back
            # from its own changelog at a restart, it is still old and goes again.
            if (partition is None or v.get("p", partition) == partition)
            and (t := parse_time(v.get("at"))) and now - t > self.keep_for
        ]
        for k in old:
            del self.state[k]
        return len(old)

    def prune_due(self, now: datetime, partition: int | None = None) -> int | None:
        """``prune`` one partition if it was last pruned ``prune_every`` ago or never (in this process); returns how
        many marks went, or None when it was not due."""
        last = self._pruned_at.get(partition)
        if last is not None and now - last < self.prune_every:
            return None
        self._pruned_at[partition] = now
        return self.prune(now, partition)


class RateLimiter:
    """Token bucket: at most ``burst`` sends at once and ``rate`` per second on average. ``acquire`` waits rather
    than drops, because a rate-limited alert must still arrive."""

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst = rate, burst
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, waiting as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return waited
                need = (1 - self._tokens) / self.rate
            self._sleep(need)
            waited += need


class Deliverer:
    """Deliver alerts to one sink with dedupe, rate limit, retries (exponential backoff) and a dead letter."""

    def __init__(
        self,
        sink: AlertSink,
        *,
        dedupe: AlertDedupe,
        dead_letter: DeadLetter,
        limiter: RateLimiter | None = None,
        retries: int = 4,
        backoff: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must not be negative")
        self.sink = sink
        self.dedupe = dedupe
        self.dead_letter = dead_letter
        self.limiter = limiter
        self.retries, self.backoff, self.backoff_max = retries, backoff, backoff_max
        self._sleep = sleep

    def delay(self, attempt: int) -> float:
        """Seconds before retry ``attempt`` (1-based): backoff, 2×, 4×, … capped at backoff_max."""
        return float(min(self.backoff_max, self.backoff * 2 ** (attempt - 1)))

    def deliver(self, alert: Alert, *, redrive: bool = False) -> DeliveryResult:
        """Send once. ``redrive=True`` sends even an alert marked done (re-driving from the dead-letter topic)."""
        name = self.sink.name
        if not redrive and self.dedupe.seen(alert.alert_id, name):
            return "duplicate"
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.delay(attempt))
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                self.sink.send(alert)
            except DeliveryError as e:
                last = e
                log.warning(
                    "event=alert_send_failed sink=%s alert_id=%s attempt=%d retryable=%s error=%s",
                    name,
                    alert.alert_id,
                    attempt + 1,
                    e.retryable,
                    e,
                )
                if not e.retryable:
                    break
                continue
            self.dedupe.mark(alert.alert_id, "delivered", name)
            log.info("event=alert_delivered sink=%s alert_id=%s attempts=%d", name, alert.alert_id, attempt + 1)
            return "delivered"
        assert last is not None
        self.dead_letter(alert, name, last)
        # Remembered as done: the dead-letter record is now the alert's home, and a replay must not retry it.
        self.dedupe.mark(alert.alert_id, "dead_lettered", name)
        # The callback decides where it goes (the worker: the retry topic or the dead-letter topic) and says so.
        log.warning("event=alert_tries_exhausted sink=%s alert_id=%s tries=%d error=%s", name, alert.alert_id,
                    attempt + 1, last)
        return "dead_lettered"
