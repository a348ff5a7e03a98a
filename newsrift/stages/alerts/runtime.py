"""What the alerts agent and ``newsrift analyze`` need around the pure alert core: sinks from settings, which
watchlists and sinks an alert goes to, and one delivery pass over several sinks (run in a thread)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from newsrift.errors import ConfigError
from newsrift.settings import Settings
from newsrift.stages.alerts.delivery import AlertDedupe, Deliverer, RateLimiter
from newsrift.stages.alerts.model import Alert
from newsrift.stages.alerts.retry import RetryPolicy
from newsrift.stages.alerts.sinks import AlertSink, DeliveryError, EmailSink, WebhookSink
from newsrift.stages.alerts.watchlist import Watch, load_watches, matches

log = logging.getLogger("newsrift.alerts")

# One bucket per sink for the life of the process: at most 1 alert/s on average, bursts of 5.
_limiters: dict[str, RateLimiter] = {}
# The alerts agent's own tries: a sink that fails with a retryable error is tried twice more, 1 and 2 s later (a
# blip), then the alert goes to the retry topic (``newsrift/stages/alerts/retry.py``) for the longer outage. Faust waits
# for the alert in hand before a rebalance or a shutdown, so these seconds are all either can wait on it.
RETRIES, BACKOFF, BACKOFF_MAX = 2, 1.0, 2.0


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(first_delay=timedelta(seconds=settings.alert_retry_first_seconds),
                       max_delay=timedelta(seconds=settings.alert_retry_max_seconds),
                       give_up_after=timedelta(seconds=settings.alert_retry_give_up_seconds))


def build_sinks(settings: Settings) -> list[AlertSink]:
    sinks: list[AlertSink] = []
    if settings.webhook_url:
        sinks.append(WebhookSink(settings.webhook_url, slack=settings.webhook_slack))
    if settings.smtp_host:
        if not settings.alert_email_to:
            raise ConfigError("NEWSRIFT_SMTP_HOST is set but NEWSRIFT_ALERT_EMAIL_TO is not: nobody to e-mail")
        sinks.append(EmailSink(settings.smtp_host, settings.smtp_port, sender=settings.alert_email_from,
                               recipients=[r.strip() for r in settings.alert_email_to.split(",") if r.strip()]))
    return sinks


@dataclass(frozen=True)
class AlertPlan:
    record: dict[str, Any]
    """The alert as written to news.alerts.v1, with the names of the watchlists it matched."""
    sinks: frozenset[str]


class AlertPlanner:
    """Decides where an alert goes. No watchlist registered: every sink. Otherwise only alerts that match a watch,
    to that watch's sinks (all sinks when it names none). The file is re-read when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._watches: list[Watch] = []

    def watches(self) -> list[Watch]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._mtime, self._watches = None, []
            return []
        if mtime != self._mtime:
            self._watches = load_watches(self.path)
            self._mtime = mtime
        return self._watches

    def plan(self, alert: Alert, sink_names: list[str]) -> AlertPlan:
        try:
            watches = self.watches()
        except ConfigError as e:
            # A broken watchlist must not silence alerts: deliver to every sink and say why.
            log.error("event=watchlist_unreadable error=%s", e)
            watches = []
        hit = [w for w in watches if matches(w, alert)]
        if not watches:
            sinks = set(sink_names)
        else:
            sinks = {s for w in hit for s in (w.notify or sink_names) if s in sink_names}
        record = alert.to_json() | {"watchlists": [w.name for w in hit]}
        return AlertPlan(record, frozenset(sinks))


@dataclass
class DeliveryOutcome:
    results: dict[str, str] = field(default_factory=dict)
    """Sink name -> "delivered", "retrying" (handed to the retry topic) or "dead_lettered"."""
    dead: dict[str, str] = field(default_factory=dict)
    """Sinks that refused for good (a 4xx, a refused recipient), with the error."""
    retry: dict[str, str] = field(default_factory=dict)
    """Sinks still failing with a retryable error after the quick tries, with the last error."""


def still_to_deliver(dedupe: AlertDedupe, alert: Alert, sinks: list[AlertSink],
                     planned: frozenset[str]) -> list[AlertSink]:
    """The planned sinks that hold no mark for this alert. Asked for every change, replayed ones included: a worker
    that died while delivering had written the alert's "topic" mark but no sink's, and those sinks are owed it."""
    return [s for s in sinks if s.name in planned and not dedupe.seen(alert.alert_id, s.name)]


def deliver_all(sinks: list[AlertSink], alert: Alert, retries: int = RETRIES) -> DeliveryOutcome:
    """Deliver to each sink with rate limit, ``retries`` quick retries and backoff; blocking, so the agent runs it
    in a thread. A sink still failing with a retryable error is in ``retry``, one that refused for good in
    ``dead``."""
    outcome = DeliveryOutcome()
    for sink in sinks:
        limiter = _limiters.setdefault(sink.name, RateLimiter(rate=1.0, burst=5))

        def dead(a: Alert, name: str, error: BaseException) -> None:
            if isinstance(error, DeliveryError) and error.retryable:
                outcome.retry[name] = str(error)
            else:
                outcome.dead[name] = str(error)

        # The durable dedupe lives in the agent's table; this pass only needs to know what happened.
        deliverer = Deliverer(sink, dedupe=AlertDedupe({}), dead_letter=dead, limiter=limiter, retries=retries,
                              backoff=BACKOFF, backoff_max=BACKOFF_MAX)
        result = deliverer.deliver(alert)
        outcome.results[sink.name] = "retrying" if sink.name in outcome.retry else result
    return outcome
