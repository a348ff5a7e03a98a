"""``GET /health`` on the worker's web port (``NEWSRIFT_WEB_PORT``): the facts for newsrift/runtime/health.py, gathered
from the running worker. Kafka: the consumer's assignment and the broker errors the log filter saw in the last 30 s.
Elasticsearch: ``GET /_cluster/health`` with a 3 s limit. Stages: Faust's own counters of messages received and
sent per topic, the dead letters each stage wrote, and the consumer lag per input topic (``newsrift lag``). Indexer:
whether its own Kafka consumer runs, and why it last started over. Offsets: the holes the stages met
(newsrift/runtime/commits.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from newsrift.runtime.health import Check, elasticsearch_check, health_report, indexer_check, kafka_check
from newsrift.runtime.indexer import IndexerState
from newsrift.runtime.logfilter import recent_errors_everywhere
from newsrift.runtime.runner import Runtime
from newsrift.settings import Settings


async def _elasticsearch(settings: Settings, es: list[Any]) -> Check:
    from newsrift.runtime.es import connect

    if not es:
        es.append(connect(settings, asynchronous=True))
    try:
        resp = await asyncio.wait_for(es[0].options(request_timeout=3).cluster.health(), timeout=4)
    except Exception as e:  # refused, timeout, 5xx: the answer is "unreachable", not an error page
        return elasticsearch_check(None, f"{type(e).__name__}: {e}")
    return elasticsearch_check(str(resp.get("status")), None)


def _kafka(app: Any) -> Check:
    try:
        assigned = len(app.consumer.assignment())
    except Exception:  # the consumer is not started yet
        assigned = 0
    return kafka_check(assigned, recent_errors_everywhere())


async def _lag(settings: Settings, kafka: Check) -> tuple[dict[str, int] | None, str | None]:
    """``newsrift lag``'s figures, asked of the broker in a thread within 5 s; not asked while Kafka is failing."""
    if not kafka.ok:
        return None, "not measured: Kafka check failing"
    from newsrift.runtime.lag import consumer_lag

    try:
        return await asyncio.wait_for(asyncio.to_thread(consumer_lag, settings), timeout=5), None
    except Exception as e:  # timeout or broker error: the rest of the answer still stands
        return None, f"{type(e).__name__}: {e}"


def install(rt: Runtime, indexer: IndexerState) -> None:
    """``GET /health`` on the worker's web server."""
    started = datetime.now(timezone.utc)
    es: list[Any] = []

    async def health(self: Any, request: Any) -> Any:
        monitor = rt.app.monitor
        kafka = _kafka(rt.app)
        lag, lag_error = await _lag(rt.settings, kafka)
        code, body = health_report(
            now=datetime.now(timezone.utc),
            started=started,
            checks={"kafka": kafka, "elasticsearch": await _elasticsearch(rt.settings, es),
                    "indexer": indexer_check(indexer.running, indexer.error)},
            received_by_topic=Counter(monitor.messages_received_by_topic),
            sent_by_topic=Counter(monitor.messages_sent_by_topic),
            dead_lettered_by_stage=rt.dead_lettered,
            events_per_second=float(monitor.events_s),
            lag_by_topic=lag,
            lag_error=lag_error,
            offset_holes=dict(rt.order.counts),
        )
        return self.json(body, status=code)

    rt.app.page("/health")(health)
