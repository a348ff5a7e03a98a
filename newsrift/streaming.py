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
import math
from collections.abc import AsyncIterable, AsyncIterator, Callable, Hashable, Iterable
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from newsrift.dead_letters import FAILED_MESSAGE
from newsrift.errors import MessageError, NewsriftError, ProcessingError
from newsrift.model import format_time

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


MAX_MESSAGE_BYTES = 900_000
"""The largest message a stage writes: Kafka's default request and message limits are about 1,000,000 bytes
(Faust's ``producer_max_request_size``, the broker's ``message.max.bytes``), and a record has some overhead."""
MAX_ENVELOPE_BYTES = MAX_MESSAGE_BYTES
"""A dead-letter envelope never exceeds this once encoded: a larger payload is cut, and the envelope says so and
how large the message was."""
_MAX_FIELD_CHARS = 10_000  # the key and the reason in an envelope; the payload gets what is left


def _no_constant(name: str) -> Any:
    raise MessageError(f"not JSON: {name} is not a JSON number (NaN and Infinity are refused)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise MessageError(f"number out of range: {text[:40]}{'...' if len(text) > 40 else ''} is not a finite "
                           "double")
    return number


def decode_json(value: bytes | str | None) -> dict[str, Any]:
    """A JSON object, or a ``MessageError`` saying why not; NaN, Infinity and numbers that overflow a double are
    refused (Elasticsearch and strict JSON readers reject them downstream)."""
    if value is None:
        raise MessageError("empty message (no value)")
    try:
        data = json.loads(value, parse_constant=_no_constant, parse_float=_finite_float)
    except MessageError:
        raise
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError, and ints over Python's digit limit
        raise MessageError(f"not JSON: {str(e)[:300]}") from e
    except RecursionError as e:
        raise MessageError("not JSON: nested too deeply") from e
    if not isinstance(data, dict):
        raise MessageError(f"expected a JSON object, got {type(data).__name__}")
    return data


def decode(value: bytes | str | None, parse: Callable[[dict[str, Any]], T]) -> T:
    """Decode a message with ``parse``; any missing or malformed field becomes a ``MessageError`` with the reason.

    ``parse`` is pure, so whatever it raises is about the message: a wrong type that slipped past its checks
    (``AttributeError``, ``OverflowError``, ...) is an invalid message too, never a crash of the stage.
    """
    data = decode_json(value)
    try:
        return parse(data)
    except MessageError:
        raise
    except KeyError as e:
        raise MessageError(f"invalid message: missing field {e}") from e
    except (TypeError, ValueError) as e:
        raise MessageError(f"invalid message: {str(e)[:500]}") from e
    except RecursionError as e:
        raise MessageError("invalid message: nested too deeply") from e
    except Exception as e:
        raise MessageError(f"invalid message: {type(e).__name__}: {str(e)[:500]}") from e


def encode(data: dict[str, Any]) -> bytes:
    """Strict JSON in UTF-8. A value that has no JSON form (NaN, Infinity, a lone surrogate, an object) is a
    ``ProcessingError``, so the message is dead-lettered rather than written for a reader to choke on."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (ValueError, TypeError) as e:  # UnicodeEncodeError is a ValueError
        raise ProcessingError(f"cannot encode the message as JSON: {str(e)[:300]}") from e


def check_message_size(value: bytes, what: str, limit: int = MAX_MESSAGE_BYTES) -> bytes:
    """``value``, or a ``ProcessingError`` when it is too large for Kafka to take."""
    if len(value) > limit:
        raise ProcessingError(f"{what} is {len(value)} bytes encoded, over the {limit}-byte message limit")
    return value


def encode_message(data: dict[str, Any], what: str) -> bytes:
    """``encode``, refusing (``ProcessingError``) a message over ``MAX_MESSAGE_BYTES`` before Kafka does."""
    return check_message_size(encode(data), what)


def _clip(text: str, limit: int = _MAX_FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def reason(error: BaseException | str) -> str:
    """The reason a dead letter gives: the message of a newsrift error; type and message of anything else."""
    if isinstance(error, str):
        return error
    if isinstance(error, NewsriftError):
        return str(error) or type(error).__name__
    text = str(error)
    return f"unexpected {type(error).__name__}: {text}" if text else f"unexpected {type(error).__name__}"


def _encoded_len(text: str) -> int:
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


def _key_text(key: bytes | None) -> str | None:
    return None if key is None else _clip(key.decode("utf-8", "replace"))


def _exact_text(key: bytes) -> bool:
    """True when ``key`` is UTF-8 short enough for the envelope's ``key`` to hold it whole."""
    try:
        return len(key.decode("utf-8")) <= _MAX_FIELD_CHARS
    except UnicodeDecodeError:
        return False


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
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> dict[str, Any]:
    """The envelope a ``.dlq`` topic holds (``newsrift.dead_letters.FailedMessage``): the original message and why
    it could not be handled.

    The payload is whole (``payload``, or ``payload_b64`` when not UTF-8) unless the envelope would exceed
    ``max_bytes`` once encoded; then it keeps the payload's start, with ``payload_truncated: true`` and
    ``payload_bytes`` (the message's size), and the topic, partition and offset point at the whole message.
    """
    env: dict[str, Any] = {
        "type": FAILED_MESSAGE,
        "stage": stage,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": _key_text(key),
        "error": _clip(reason(error)),
        "error_type": type(error).__name__ if isinstance(error, BaseException) else "str",
        "failed_at": format_time(now or datetime.now(timezone.utc)),
    }
    if key is not None and not _exact_text(key):
        # Not UTF-8, or clipped: kept exactly too, so a replay publishes to the partition the key chose.
        env["key_b64"] = base64.b64encode(key[:_MAX_FIELD_CHARS]).decode("ascii")
    if value is None:
        env["payload"] = None
        return env
    # Room for the payload: the limit less the rest of the envelope and the truncation fields.
    room = max_bytes - len(encode(env)) - len(',"payload_b64":"","payload_truncated":true,"payload_bytes":') - 20
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        if (len(value) + 2) // 3 * 4 <= room:
            env["payload_b64"] = base64.b64encode(value).decode("ascii")
            return env
        env["payload_b64"] = base64.b64encode(value[: max(0, room) // 4 * 3]).decode("ascii")
    else:
        size = _encoded_len(text)
        if size <= room:
            env["payload"] = text
            return env
        cut = len(value)
        while size > room and cut > 0:  # escapes make the encoded size grow faster than the bytes: shrink to fit
            cut = max(0, min(cut - 1, int(cut * room / size) - 16))
            text = value[:cut].decode("utf-8", "ignore")
            size = _encoded_len(text)
        env["payload"] = text
    env["payload_truncated"] = True
    env["payload_bytes"] = len(value)
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


class Restarts:
    """The pause before a consumer loop that failed starts over: ``first`` seconds, doubling to ``cap``, and back to
    ``first`` once the loop made progress (``reset``), so a hiccup days after the last one waits a second again."""

    def __init__(self, first: float = 1.0, cap: float = 60.0) -> None:
        self.first, self.cap, self._pause = first, cap, first

    def next(self) -> float:
        pause, self._pause = self._pause, min(self.cap, self._pause * 2)
        return pause

    def reset(self) -> None:
        self._pause = self.first


class FailureCounts(Generic[K]):
    """How many times the same records failed, so that a consumer gives up on a record that always fails (a poison
    message) after ``limit`` tries rather than starting over forever. Failures that are not the record's fault
    (Kafka away) must not be counted. At most ``keep`` records are remembered."""

    def __init__(self, limit: int = 5, keep: int = 100_000) -> None:
        self.limit, self.keep = limit, keep
        self._counts: dict[K, int] = {}

    def add(self, keys: Iterable[K]) -> bool:
        """Count one more failure of each; True once any of them has failed ``limit`` times."""
        if len(self._counts) > self.keep:  # records of partitions this consumer no longer reads
            self._counts.clear()
        worst = 0
        for key in keys:
            self._counts[key] = self._counts.get(key, 0) + 1
            worst = max(worst, self._counts[key])
        return worst >= self.limit

    def reached(self, key: K) -> bool:
        return self._counts.get(key, 0) >= self.limit

    def forget(self, keys: Iterable[K]) -> None:
        for key in keys:
            self._counts.pop(key, None)
