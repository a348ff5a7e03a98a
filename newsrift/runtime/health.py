"""What ``GET /health`` on the worker's web port answers: can the worker reach Kafka and Elasticsearch, and what has
each stage done so far. Pure: the worker gathers the facts (newsrift/runtime/web.py), this decides and shapes the
answer.

200 with ``"status": "ok"`` when every check passes, 503 with ``"status": "degraded"`` otherwise, so a load balancer
or an orchestrator's probe can use the code alone and a person the body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from newsrift.model import format_time

__all__ = ["Check", "elasticsearch_check", "health_report", "indexer_check", "kafka_check"]


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


def kafka_check(assigned: int, recent_errors: Sequence[str]) -> Check:
    """Broker errors logged in the last window (the log filter keeps them) mean the broker is unreachable or
    failing now; an empty assignment means the worker is starting or rebalancing and processes nothing."""
    if recent_errors:
        example = recent_errors[0][:200]
        return Check(False, f"{len(recent_errors)} kinds of broker error in the last 30 s, e.g. {example}")
    if assigned <= 0:
        return Check(False, "no partitions assigned (starting or rebalancing)")
    return Check(True, f"{assigned} partitions assigned")


def elasticsearch_check(cluster_status: str | None, error: str | None) -> Check:
    """From ``GET /_cluster/health``: unreachable or red is a failure; yellow (a single node's replicas) is not."""
    if error is not None:
        return Check(False, f"unreachable: {error[:200]}")
    if cluster_status not in ("green", "yellow"):
        return Check(False, f"cluster status {cluster_status}")
    return Check(True, f"cluster status {cluster_status}")


def indexer_check(running: bool, last_error: str | None) -> Check:
    """The indexer's own Kafka consumer (newsrift/stages/index/agent.py). An Elasticsearch outage does not fail it (the
    indexer waits inside a batch; the elasticsearch check says why); starting over after an error does."""
    if not running:
        return Check(False, f"starting over after: {last_error[:200]}" if last_error else "starting")
    if last_error:
        return Check(True, f"consuming (started over after: {last_error[:200]})")
    return Check(True, "consuming")


def health_report(
    *,
    now: datetime,
    started: datetime,
    checks: Mapping[str, Check],
    received_by_topic: Mapping[str, int],
    sent_by_topic: Mapping[str, int],
    dead_lettered_by_stage: Mapping[str, int],
    events_per_second: float,
    lag_by_topic: Mapping[str, int] | None = None,
    lag_error: str | None = None,
    offset_holes: Mapping[str, int] | None = None,
) -> tuple[int, dict[str, object]]:
    """The HTTP status code and the JSON body. Lag (messages each stage's input topic still holds for the worker's
    group) is information, not a check: a backlog after an outage is expected, not a fault. So are the holes the
    stages met in their partitions' offsets and fetched again, and those that could not be filled
    (``newsrift/runtime/commits.py``): the log says which partition and which offsets."""
    ok = all(c.ok for c in checks.values())
    body: dict[str, object] = {
        "status": "ok" if ok else "degraded",
        "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in sorted(checks.items())},
        "started_at": format_time(started),
        "uptime_s": round((now - started).total_seconds(), 1),
        "events_per_second": round(events_per_second, 2),
        "received_by_topic": dict(sorted(received_by_topic.items())),
        "sent_by_topic": dict(sorted(sent_by_topic.items())),
        "dead_lettered_by_stage": dict(sorted(dead_lettered_by_stage.items())),
        "lag_by_topic": dict(sorted(lag_by_topic.items())) if lag_by_topic is not None else None,
        "offset_holes": dict(sorted(offset_holes.items())) if offset_holes is not None else None,
    }
    if lag_error is not None:
        body["lag_error"] = lag_error[:200]
    return (200 if ok else 503), body
