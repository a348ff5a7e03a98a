"""Dead-letter envelopes: what the ``.dlq`` topics hold, their ``type`` tags, the one decoder, and what replaying
each means. Kept free of Kafka (``newsrift dlq``, in ``newsrift.cli.dlq``, does the I/O).

An envelope is a JSON object whose ``type`` names its class, like the messages of ``newsrift.messages``:

- ``failed_message`` (``FailedMessage``), written by ``newsrift.streaming.dead_letter`` for the stages, the
  indexer and the alert retrier. Replaying it publishes the original bytes and key to the source topic again.
- ``failed_alert`` (``FailedAlert``), written by ``newsrift.stages.alerts.retry.alert_dead_letter`` to
  ``news.alerts.v1.dlq``. Replaying it delivers the alert to the sink that refused it again, even though the
  worker marked it done.

A ``FailedMessage`` holds the original message whole (``payload``, or ``payload_b64`` when it was not UTF-8; cut,
with ``payload_truncated``, only when it would not fit the topic), the topic, partition and offset it came from,
the stage and the reason. Every stage reading the source topic sees a republished message again; stages are
idempotent by id (deterministic article, claim, event, dispute and alert ids), so a replay is safe to repeat once
the cause is fixed.

``decode_dead_letter`` is the one decoder: a record that is not an envelope (not JSON, no or an unknown ``type``, a
field of the wrong type) is a ``MessageError`` naming the reason, never a crash; the record stays on its topic.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from newsrift.errors import MessageError

__all__ = [
    "FAILED_ALERT",
    "FAILED_MESSAGE",
    "DeadLetter",
    "FailedAlert",
    "FailedMessage",
    "Redelivery",
    "Republish",
    "decode_dead_letter",
    "plan_replay",
    "reason",
    "summarise",
]

FAILED_MESSAGE = "failed_message"
"""The ``type`` of a stage's envelope: a message that could not be handled."""
FAILED_ALERT = "failed_alert"
"""The ``type`` of an alert a sink refused for good."""


def _opt_str(data: dict[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise MessageError(f"{what}: '{key}' must be a string or null, not {type(value).__name__}")
    return value


def _opt_int(data: dict[str, Any], key: str, what: str) -> int | None:
    value = data.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise MessageError(f"{what}: '{key}' must be an integer or null, not {type(value).__name__}")
    return value


def _name(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MessageError(f"{what} without a '{key}' (a non-empty string)")
    return value


@dataclass(frozen=True)
class FailedMessage:
    """A message a stage could not handle, whole where it fit, with where it came from and why it failed."""

    TYPE: ClassVar[str] = FAILED_MESSAGE
    stage: str
    topic: str
    partition: int | None
    offset: int | None
    error: str
    error_type: str | None = None
    failed_at: str | None = None
    key: str | None = None
    key_b64: str | None = None
    payload: str | None = None
    payload_b64: str | None = None
    payload_truncated: bool = False
    payload_bytes: int | None = None

    def where(self) -> str:
        return f"{self.topic} partition {self.partition} offset {self.offset}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.TYPE, "stage": self.stage, "topic": self.topic,
                               "partition": self.partition, "offset": self.offset, "key": self.key,
                               "error": self.error, "error_type": self.error_type, "failed_at": self.failed_at}
        if self.key_b64 is not None:
            out["key_b64"] = self.key_b64
        if self.payload_b64 is not None:
            out["payload_b64"] = self.payload_b64
        else:
            out["payload"] = self.payload
        if self.payload_truncated:
            out |= {"payload_truncated": True, "payload_bytes": self.payload_bytes}
        return out

    @classmethod
    def parse(cls, data: dict[str, Any]) -> FailedMessage:
        what = FAILED_MESSAGE
        truncated = data.get("payload_truncated", False)
        if not isinstance(truncated, bool):
            raise MessageError(f"{what}: 'payload_truncated' must be a boolean")
        return cls(stage=_name(data, "stage", what), topic=_name(data, "topic", what),
                   partition=_opt_int(data, "partition", what), offset=_opt_int(data, "offset", what),
                   error=_opt_str(data, "error", what) or "", error_type=_opt_str(data, "error_type", what),
                   failed_at=_opt_str(data, "failed_at", what), key=_opt_str(data, "key", what),
                   key_b64=_opt_str(data, "key_b64", what), payload=_opt_str(data, "payload", what),
                   payload_b64=_opt_str(data, "payload_b64", what), payload_truncated=truncated,
                   payload_bytes=_opt_int(data, "payload_bytes", what))


@dataclass(frozen=True)
class FailedAlert:
    """An alert the sink named ``sink`` refused for good (or kept refusing until its retries ran out)."""

    TYPE: ClassVar[str] = FAILED_ALERT
    stage: str
    sink: str
    error: str
    alert: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, "stage": self.stage, "sink": self.sink, "error": self.error, "alert": self.alert}

    @classmethod
    def parse(cls, data: dict[str, Any]) -> FailedAlert:
        what = FAILED_ALERT
        alert = data.get("alert")
        if not isinstance(alert, dict):
            raise MessageError(f"{what} without an 'alert' object")
        return cls(stage=_name(data, "stage", what), sink=_name(data, "sink", what),
                   error=_opt_str(data, "error", what) or "", alert=alert)


DeadLetter = FailedMessage | FailedAlert
_TYPES: dict[str, type[FailedMessage] | type[FailedAlert]] = {FAILED_MESSAGE: FailedMessage,
                                                               FAILED_ALERT: FailedAlert}


def decode_dead_letter(value: bytes | str | None) -> DeadLetter:
    """The envelope a ``.dlq`` record holds, or a ``MessageError`` saying why the record is not one."""
    if value is None:
        raise MessageError("empty record (no value)")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise MessageError(f"not a dead-letter envelope (not JSON: {str(e)[:300]})") from e
    if not isinstance(data, dict):
        raise MessageError(f"not a dead-letter envelope (a JSON {type(data).__name__}, not an object)")
    tag = data.get("type")
    cls = _TYPES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        found = "no 'type'" if tag is None else f"type {str(tag)[:60]!r}"
        raise MessageError(f"not a dead-letter envelope ({found}; a dead-letter topic carries "
                           f"{', '.join(sorted(_TYPES))})")
    return cls.parse(data)


# ------------------------------------------------------------------------------------------------------- replay


@dataclass(frozen=True)
class Republish:
    """Publish ``value`` with ``key`` to ``topic`` again."""

    topic: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Redelivery:
    """Deliver an alert (its JSON) to the sink named ``sink`` again."""

    sink: str
    alert: dict[str, Any]


def _b64(text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise MessageError(f"{field} is not base64: {e}") from e


def plan_replay(record: DeadLetter) -> Republish | Redelivery:
    """What replaying ``record`` means, or a ``MessageError`` saying why it cannot be replayed."""
    if isinstance(record, FailedAlert):
        return Redelivery(record.sink, record.alert)
    if record.payload_truncated:
        raise MessageError(f"the payload was cut to fit the dead-letter topic; the whole message is at "
                           f"{record.where()}")
    if record.key_b64 is not None:  # a key that was not UTF-8 (or was clipped), kept exactly
        key: bytes | None = _b64(record.key_b64, "key_b64")
    else:
        key = None if record.key is None else record.key.encode("utf-8")
    if record.payload is not None:
        value = record.payload.encode("utf-8")
    elif record.payload_b64 is not None:
        value = _b64(record.payload_b64, "payload_b64")
    else:
        raise MessageError(f"the record holds no payload (the message at {record.where()} had no value)")
    return Republish(record.topic, key, value)


# ------------------------------------------------------------------------------------------------------ summary

_NUMBERS = re.compile(r"[\w.:-]*\d[\w.:-]*")  # a number, or an id or offset with digits in it


def reason(error: str, width: int = 80) -> str:
    """An error with numbers and ids that hold digits folded (``article a1f3 has 5 chars`` -> ``article N has N
    chars``) so that records failing the same way count together."""
    text = _NUMBERS.sub("N", " ".join(error.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


def summarise(records: Iterable[DeadLetter | MessageError]) -> Counter[tuple[str, str]]:
    """How many records failed in each stage for each (folded) reason; a record that did not decode (its
    ``MessageError``) counts under stage ``?`` with the reason it is unreadable."""
    return Counter(("?", reason(f"unreadable: {r}")) if isinstance(r, MessageError) else (r.stage, reason(r.error))
                   for r in records)
