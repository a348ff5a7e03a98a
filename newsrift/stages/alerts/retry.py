"""Alerts a sink could not take yet: scheduled retries on ``news.alerts.retry.v1`` instead of a dead letter.

The alerts agent tries a sink a few times within seconds. A sink still down after that (a webhook being redeployed,
a mail relay restarting) is not the alert's fault, so the alert is handed to the retry topic with a due time, and
the retrier (``newsrift/stages/alerts/retrier.py``) tries again at growing intervals (``RetryPolicy``: 30 s, 1, 2, 4,
8 min, then every 10 min) for up to a day before the alert goes to ``news.alerts.v1.dlq``. The alerts agent never
sleeps for long, so a down sink holds neither its partition nor a rebalance, and an alert is not dead-lettered by a
short outage.

Pure: no Kafka, no network. ``decide`` says what follows one retry's delivery attempt. The ``Retry`` record
itself (and its codec) is ``newsrift.records.Retry``: ``newsrift.messages`` carries it.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from newsrift.dead_letters import FailedAlert
from newsrift.records import Retry

__all__ = ["Decision", "RetryPolicy", "SettledAttempts", "alert_dead_letter", "decide", "hand_over"]


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(seconds=30)
    max_delay: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(days=1)
    """Counted from the first failure: a retry that would fall later than this is not scheduled."""

    def __post_init__(self) -> None:
        if not timedelta(0) < self.first_delay <= self.max_delay:
            raise ValueError(f"retry delays must satisfy 0 < first ({self.first_delay}) <= max ({self.max_delay})")
        if self.give_up_after < timedelta(0):
            raise ValueError(f"give_up_after must not be negative, got {self.give_up_after}")

    def delay(self, attempt: int) -> timedelta:
        """Wait before retry ``attempt`` (1-based): first, 2x, 4x, ... capped at ``max_delay``."""
        if attempt < 1:
            raise ValueError(f"attempt is 1-based, got {attempt}")
        # In float seconds with the exponent bounded: a timedelta times 2**40 overflows before any cap applies.
        seconds = self.first_delay.total_seconds() * 2.0 ** min(attempt - 1, 60)
        return min(self.max_delay, timedelta(seconds=min(seconds, self.max_delay.total_seconds())))

    def first(self, sink: str, alert: dict[str, Any], error: str, now: datetime) -> Retry | None:
        """The retry of an alert ``sink`` has just refused; None when the policy allows no retry at all."""
        return self._schedule(Retry(sink=sink, alert=alert, attempt=0, first_failed=now, due=now, error=error), error,
                              now)

    def after_failure(self, retry: Retry, error: str, now: datetime) -> Retry | None:
        """The next retry once ``retry`` failed again; None when the next would fall past ``give_up_after``."""
        return self._schedule(retry, error, now)

    def _schedule(self, retry: Retry, error: str, now: datetime) -> Retry | None:
        attempt = retry.attempt + 1
        due = now + self.delay(attempt)
        if due - retry.first_failed > self.give_up_after:
            return None
        return Retry(sink=retry.sink, alert=retry.alert, attempt=attempt, first_failed=retry.first_failed, due=due,
                     error=error[:1000])


@dataclass(frozen=True)
class Decision:
    """What follows one delivery attempt of a retry: ``done`` (delivered), ``next`` (``record`` is the next retry
    to publish) or ``dead`` (``reason`` goes to the dead-letter topic with the alert)."""

    action: Literal["done", "next", "dead"]
    record: Retry | None = None
    reason: str = ""


def decide(retry: Retry, *, delivered: bool, error: str, retryable: bool, now: datetime,
           policy: RetryPolicy) -> Decision:
    if delivered:
        return Decision("done")
    if not retryable:
        return Decision("dead", reason=error)
    following = policy.after_failure(retry, error, now)
    if following is None:
        return Decision("dead", reason=dataclasses.replace(retry, error=error).describe())
    return Decision("next", record=following)


def hand_over(retrying: dict[str, str], alert: dict[str, Any], now: datetime,
              policy: RetryPolicy) -> tuple[list[Retry], dict[str, str]]:
    """The alerts agent's sinks still failing after its quick tries (name -> last error): the first retry of each,
    or, when the policy allows none, the sink and its error for the dead letter."""
    retries: list[Retry] = []
    dead: dict[str, str] = {}
    for sink, error in retrying.items():
        retry = policy.first(sink, alert, error, now)
        if retry is None:
            dead[sink] = error
        else:
            retries.append(retry)
    return retries, dead


def alert_dead_letter(alert_id: str, sink: str, error: str, alert: dict[str, Any]) -> dict[str, Any]:
    """A dead-lettered alert (``newsrift.dead_letters.FailedAlert``), which ``newsrift dlq replay`` delivers again
    to ``sink``."""
    return FailedAlert("send_alerts", sink, error, alert).to_json()


class SettledAttempts:
    """(sink, alert id) -> the highest attempt this process settled (for ever once delivered or dead-lettered), for
    the most recent ``keep`` alerts: the retrier skips a record read again instead of settling it twice."""

    def __init__(self, keep: int = 10_000) -> None:
        self.keep = keep
        self._seen: OrderedDict[tuple[str, str], int] = OrderedDict()

    def settled(self, retry: Retry) -> bool:
        return self._seen.get((retry.sink, str(retry.alert.get("alert_id"))), 0) >= retry.attempt

    def add(self, retry: Retry, final: bool) -> None:
        key = (retry.sink, str(retry.alert.get("alert_id")))
        self._seen[key] = 1 << 62 if final else max(retry.attempt, self._seen.get(key, 0))
        self._seen.move_to_end(key)
        while len(self._seen) > self.keep:
            self._seen.popitem(last=False)
