"""Alerts a sink could not take yet: scheduled retries on ``news.alerts.retry.v1`` instead of a dead letter.

The alerts agent tries a sink a few times within seconds. A sink still down after that (a webhook being redeployed,
a mail relay restarting) is not the alert's fault, so the alert is handed to the retry topic with a due time, and
the ``retry_alerts`` agent tries again at growing intervals (``RetryPolicy``: 30 s, 1, 2, 4, 8 min, then every
10 min) for up to a day before the alert goes to ``news.alerts.v1.dlq``. The alerts agent never sleeps for long, so
a down sink holds neither its partition nor a rebalance, and an alert is not dead-lettered by a short outage.

A waiting retry holds its partition of the retry topic (records are handled in order), but only while the worker
keeps it: when Faust suspends its flow for a rebalance or a shutdown, ``wait_until_due`` returns early and the
agent hands the record back to the topic unchanged, so neither waits on it.

Pure: no Faust, no network. ``wait_until_due`` takes its clock, its sleep and the flow-control test as arguments.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import MessageError
from pipeline.model import _Json, format_time, parse_time

__all__ = ["Retry", "RetryPolicy", "superseded", "tried", "wait_until_due"]


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
        if attempt > 40:  # 2**40 first delays is past any cap; keeps the float finite
            return self.max_delay
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))

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
class Retry(_Json):
    """One alert owed to one sink (schema ``schemas/alert_retry.v1.schema.json``). ``attempt`` numbers this retry
    (1 = the first after the alerts agent's own tries); ``error`` is the last refusal."""

    sink: str
    alert: dict[str, Any]
    attempt: int
    first_failed: datetime
    due: datetime
    error: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Retry:
        if not isinstance(d, dict):
            raise MessageError(f"invalid retry: expected an object, got {type(d).__name__}")
        sink, alert, attempt, error = d["sink"], d["alert"], d["attempt"], d.get("error", "")
        if not isinstance(sink, str) or not sink:
            raise MessageError("invalid retry: 'sink' must be a sink name")
        if not isinstance(alert, dict) or not isinstance(alert.get("alert_id"), str):
            raise MessageError("invalid retry: 'alert' must be an alert object with an alert_id")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise MessageError(f"invalid retry: 'attempt' must be a non-negative integer, got {attempt!r}"[:200])
        if not isinstance(error, str):
            raise MessageError("invalid retry: 'error' must be a string")
        first_failed, due = parse_time(d["first_failed"]), parse_time(d["due"])
        if first_failed is None or due is None:
            raise MessageError("invalid retry: 'first_failed' and 'due' are required times")
        return cls(sink=sink, alert=alert, attempt=attempt, first_failed=first_failed, due=due, error=error)

    def describe(self) -> str:
        """Why it ends in the dead-letter topic, for the record's ``error``."""
        return (f"gave up after {self.attempt} retries since {format_time(self.first_failed)}; "
                f"last error: {self.error}")


def tried(attempt: int) -> str:
    """The mark the retry agent keeps for an alert whose retry ``attempt`` failed and was rescheduled."""
    return f"tried:{attempt}"


def superseded(outcome: str | None, attempt: int) -> bool:
    """Whether a retry record with ``attempt`` is already dealt with, given the (sink, alert) mark: the alert was
    delivered or dead-lettered, or this attempt (or a later one) was already tried. A record comes twice when its
    offset was not committed before a restart, or was handed back at a rebalance and then redelivered too."""
    if outcome is None:
        return False
    if outcome.startswith("tried:"):
        try:
            return int(outcome.removeprefix("tried:")) >= attempt
        except ValueError:
            return False
    return True


async def wait_until_due(
    due: datetime,
    *,
    now: Callable[[], datetime],
    active: Callable[[], bool],
    sleep: Callable[[float], Awaitable[Any]],
    step: float = 1.0,
) -> bool:
    """Sleep until ``due`` in steps of at most ``step`` seconds. False as soon as ``active()`` is false (the worker
    is giving up its partitions): the caller hands the record back instead of holding the rebalance."""
    while True:
        if not active():
            return False
        left = (due - now()).total_seconds()
        if left <= 0:
            return True
        await sleep(min(step, left))
