"""Bulk writes that never lose a document: transient failures retry with backoff, permanent ones are returned."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from typing import Any

from elastic_transport import SerializationError

from newsrift.stages.index.core import BulkAction, bulk_body
from newsrift.streaming import log_event

log = logging.getLogger("newsrift.index")

# Statuses worth retrying: the cluster is busy or briefly unavailable, not the document's fault.
RETRYABLE = {408, 429, 500, 502, 503, 504}


def backoff(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with full jitter."""
    return float(random.uniform(0, min(cap, base * 2**attempt)))


# Statuses of a whole bulk request that retrying cannot fix: the body does not parse (a value Elasticsearch refuses,
# such as a non-finite number) or is too large. The batch is split until the documents at fault stand alone.
REFUSED_WHOLE = {400, 413}


def _refused_whole(error: Exception) -> str | None:
    """Why Elasticsearch (or the client, before sending) refused a whole bulk request for good; None when the
    failure is transient (connection refused, timeout, 5xx, 429): those are retried with backoff."""
    if isinstance(error, SerializationError):
        return f"the client could not serialise it: {error}"
    status = getattr(error, "status_code", None)
    if isinstance(status, int) and status in REFUSED_WHOLE:
        return f"HTTP {status}: {error}"
    return None


async def write_bulk(es: Any, actions: Sequence[BulkAction], max_wait: float = 30.0) -> list[tuple[BulkAction, str]]:
    """Write ``actions``; retry until Elasticsearch takes them. Returns (action, reason) for permanent rejections.

    The caller holds the Kafka offsets until this returns, so an Elasticsearch outage only delays indexing. A
    request refused as a whole (400, 413) is split in halves, and again, until each document that Elasticsearch
    refuses alone is returned as rejected while the others are written.
    """
    failed: list[tuple[BulkAction, str]] = []
    await _write(es, list(actions), failed, max_wait)
    return failed


async def _write(es: Any, pending: list[BulkAction], failed: list[tuple[BulkAction, str]], max_wait: float) -> None:
    attempt = 0
    while pending:
        try:
            resp = await es.bulk(operations=bulk_body(pending), refresh=False)
        except Exception as e:
            why = _refused_whole(e)
            if why is not None:
                if len(pending) == 1:
                    failed.append((pending[0], f"refused on its own, {why}"[:1000]))
                    return
                half = len(pending) // 2
                log_event(log, "bulk_split", logging.WARNING, docs=len(pending), error=why[:200])
                await _write(es, pending[:half], failed, max_wait)
                await _write(es, pending[half:], failed, max_wait)
                return
            # connection refused, timeout, 5xx, 429: all transient from here
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
            if status < 300 or (status == 404 and action.op == "patch"):
                continue  # a patch of a document that is not there (one Elasticsearch refused) has nothing to do
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
