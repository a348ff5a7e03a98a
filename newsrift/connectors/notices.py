"""Notices about feeds (found dead, revived) for the operator, delivered through the alert sinks.

The poller raises a ``FeedNotice`` once per change (the state on disk remembers that it did) and hands it to a
``Notify`` callable, in a thread. ``sink_notifier`` makes one from alert sinks (``newsrift.stages.alerts.sinks``: the
webhook and e-mail sinks configured by ``NEWSRIFT_WEBHOOK_URL`` / ``NEWSRIFT_SMTP_HOST``), through their
``send_notice``. Nothing here imports Faust.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from newsrift.model import stable_id

__all__ = ["FeedNotice", "NoticeSink", "Notify", "sink_notifier"]

log = logging.getLogger("newsrift.connectors")


@dataclass(frozen=True)
class FeedNotice:
    kind: Literal["feed_dead", "feed_revived"]
    url: str
    outlet_id: str
    since: str  # feed_dead: failing since; feed_revived: dead since (ISO 8601, UTC)
    at: str  # when the poller decided (ISO 8601, UTC)
    failures: int  # consecutive failed polls
    requests: int  # requests made for the feed in all
    request_failures: int
    last_error: str | None = None

    @property
    def notice_id(self) -> str:
        """Stable for (kind, feed, since): a receiver can drop a repeat by it."""
        return stable_id("notice", self.kind, self.url, self.since)

    @property
    def subject(self) -> str:
        if self.kind == "feed_dead":
            return f"feed dead: {self.url} ({self.outlet_id}), no success since {self.since}"
        return f"feed revived: {self.url} ({self.outlet_id}), dead since {self.since}"

    def text(self) -> str:
        lines = [self.subject, "",
                 f"outlet {self.outlet_id} · {self.failures} failed polls in a row · {self.requests} requests in all,"
                 f" {self.request_failures} failed"]
        if self.last_error:
            lines.append(f"last error: {self.last_error}")
        if self.kind == "feed_dead":
            lines.append("It is still tried once a day; a success revives it.")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, **asdict(self)}


Notify = Callable[[FeedNotice], None]


class NoticeSink(Protocol):
    """What ``newsrift.stages.alerts.sinks.AlertSink`` offers for notices."""

    name: str

    def send_notice(self, notice_id: str, subject: str, text: str, data: Mapping[str, Any]) -> None: ...


def sink_notifier(sinks: Sequence[NoticeSink], *, retries: int = 2, backoff: float = 1.0,
                  sleep: Callable[[float], None] = time.sleep) -> Notify:
    """Deliver each notice to every sink, with ``retries`` quick retries (``backoff``, then twice as long); a sink
    that still refuses is logged as ``event=feed_notice_failed`` (the poller's log line stays the record)."""

    def notify(notice: FeedNotice) -> None:
        for sink in sinks:
            for attempt in range(retries + 1):
                if attempt:
                    sleep(backoff * 2 ** (attempt - 1))
                try:
                    sink.send_notice(notice.notice_id, notice.subject, notice.text(), notice.to_json())
                except Exception as e:  # a sink's own error type, or anything else: never the poller's problem
                    retryable = getattr(e, "retryable", True)
                    if attempt == retries or not retryable:
                        log.error("event=feed_notice_failed sink=%s kind=%s url=%s error=%r", sink.name,
                                  notice.kind, notice.url, str(e)[:300])
                        break
                    continue
                log.info("event=feed_notice_sent sink=%s kind=%s url=%s", sink.name, notice.kind, notice.url)
                break

    return notify
