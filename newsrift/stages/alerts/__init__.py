"""Alerts: dispute changes -> alerts, watchlists, and delivery to webhook / Slack-compatible / e-mail sinks.

Pure parts (``alert_from_change``, ``matches``) plus small synchronous sinks behind ``AlertSink``; ``Deliverer`` adds
dedupe, a per-sink rate limit, retries with backoff and a dead letter.
"""

from newsrift.stages.alerts.core import alert_from_change, change_label, summarise
from newsrift.stages.alerts.delivery import AlertDedupe, DeadLetter, Deliverer, DeliveryResult, RateLimiter
from newsrift.stages.alerts.model import Alert
from newsrift.stages.alerts.sinks import AlertSink, DeliveryError, EmailSink, WebhookSink, slack_payload
from newsrift.stages.alerts.watchlist import Watch, add_watch, load_watches, matches, remove_watch, save_watches

__all__ = [
    "Alert",
    "AlertDedupe",
    "AlertSink",
    "DeadLetter",
    "Deliverer",
    "DeliveryError",
    "DeliveryResult",
    "EmailSink",
    "RateLimiter",
    "Watch",
    "WebhookSink",
    "add_watch",
    "alert_from_change",
    "change_label",
    "load_watches",
    "matches",
    "remove_watch",
    "save_watches",
    "slack_payload",
    "summarise",
]
