"""What every agent shares, kept free of Faust: decoding with a reason, and the dead-letter envelope.

Topics carry raw bytes and agents decode them here rather than through ``faust.Record`` value types: a message that
does not decode must reach the dead-letter topic with its reason, and Faust drops undecodable values before an agent
ever sees them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from pipeline.errors import MessageError
from pipeline.model import format_time

T = TypeVar("T")


def decode_json(value: bytes | str | None) -> dict[str, Any]:
    if value is None:
        raise MessageError("empty message (no value)")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MessageError(f"not JSON: {e}") from e
    if not isinstance(data, dict):
        raise MessageError(f"expected a JSON object, got {type(data).__name__}")
    return data


def decode(value: bytes | str | None, parse: Callable[[dict[str, Any]], T]) -> T:
    """Decode a message with ``parse``; any missing or malformed field becomes a ``MessageError`` with the reason."""
    data = decode_json(value)
    try:
        return parse(data)
    except MessageError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
        raise MessageError(f"invalid message: {what}") from e


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dead_letter(
    *,
    stage: str,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    error: BaseException | str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The envelope a ``.dlq`` topic holds: the original message, whole, and why it could not be handled."""
    env: dict[str, Any] = {
        "stage": stage,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key.decode("utf-8", "replace") if key is not None else None,
        "error": str(error),
        "error_type": type(error).__name__ if isinstance(error, BaseException) else "str",
        "failed_at": format_time(now or datetime.now(timezone.utc)),
    }
    if value is None:
        env["payload"] = None
    else:
        try:
            env["payload"] = value.decode("utf-8")
        except UnicodeDecodeError:
            env["payload_b64"] = base64.b64encode(value).decode("ascii")
    return env


def kv(**fields: Any) -> str:
    """``key=value`` pairs for structured logs; values with spaces are quoted."""
    parts = []
    for k, v in fields.items():
        s = str(v)
        if not s or any(c.isspace() for c in s) or '"' in s:
            s = json.dumps(s)
        parts.append(f"{k}={s}")
    return " ".join(parts)


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: Any) -> None:
    logger.log(level, "event=%s %s", event, kv(**fields))


async def batches(source: AsyncIterable[T], max_size: int, within: float) -> AsyncIterator[list[T]]:
    """Lists of up to ``max_size`` items from ``source``: a list is yielded when it is full, or ``within`` seconds
    after its first item arrived, whichever comes first; the last one when ``source`` ends.

    Faust's ``Stream.take`` / ``take_events`` can hold the last message of a burst back until more arrive
    (robinhood/faust#656; seen here as the seed e2e test stalling with one raw article unprocessed), so the agents
    batch with this instead, over a ``noack()`` stream, and ack each event once its batch is done. The next item is
    awaited as a task that outlives a timeout (never cancelled mid-read, which would end the stream); it is cancelled
    only when the consumer of the batches goes away.
    """
    if max_size < 1 or not within > 0:
        raise ValueError(f"max_size must be at least 1 and within positive, not {max_size} and {within}")
    it = source.__aiter__()
    loop = asyncio.get_running_loop()
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            batch: list[T] = []
            deadline: float | None = None
            while len(batch) < max_size:
                if pending is None:
                    pending = asyncio.ensure_future(it.__anext__())
                timeout = None if deadline is None else max(0.0, deadline - loop.time())
                done, _ = await asyncio.wait((pending,), timeout=timeout)
                if not done:
                    break  # the batch's time is up; the read stays pending for the next batch
                finished, pending = pending, None
                try:
                    item = finished.result()
                except StopAsyncIteration:
                    if batch:
                        yield batch
                    return
                batch.append(item)
                if deadline is None:
                    deadline = loop.time() + within
            yield batch
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.wait((pending,))  # let the read unwind before the source is used or closed again
