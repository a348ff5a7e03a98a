"""Bulk writes that never lose a document: transient failures retry with backoff, permanent ones are returned."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from pipeline.index.core import BulkAction, bulk_body
from pipeline.streaming import log_event

log = logging.getLogger("newsrift.index")

# Statuses worth retrying: the cluster is busy or briefly unavailable, not the document's fault.
RETRYABLE = {408, 429, 500, 502, 503, 504}


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter."""
    return float(random.uniform(0, min(cap, base * 2**attempt)))


async def write_bulk(es: Any, actions: Sequence[BulkAction], max_wait: float = 30.0) -> list[tuple[BulkAction, str]]:
    """Write ``actions``; retry until Elasticsearch takes them. Returns (action, reason) for permanent rejections.

    The caller holds the Kafka offsets until this returns, so an Elasticsearch outage only delays indexing.
    """
    pending = list(actions)
    failed: list[tuple[BulkAction, str]] = []
    attempt = 0
    while pending:
        try:
            resp = await es.bulk(operations=bulk_body(pending), refresh=False)
        except Exception as e:  # connection refused, timeout, 5xx: all transient from here
            delay = backoff(attempt, cap=max_wait)
            log_event(log, "bulk_retry", logging.WARNING, error=type(e).__name__, attempt=attempt,
                      delay=f"{delay:.2f}", docs=len(pending))
            attempt += 1
            await asyncio.sleep(delay)
            continue
        retry: list[BulkAction] = []
        for action, item in zip(pending, resp["items"], strict=True):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status < 300:
                continue
            if status in RETRYABLE:
                retry.append(action)
            else:
                failed.append((action, str(result.get("error"))[:1000]))
        if retry:
            delay = backoff(attempt, cap=max_wait)
            log_event(log, "bulk_partial_retry", logging.WARNING, docs=len(retry), delay=f"{delay:.2f}")
            attempt += 1
            await asyncio.sleep(delay)
        pending = retry
    return failed
