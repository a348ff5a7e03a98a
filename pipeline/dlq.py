"""What a dead-letter record says and how to send it again, kept free of Kafka (``newsrift dlq`` does the I/O).

Two shapes reach the ``.dlq`` topics:

- a stage's envelope (``pipeline.streaming.dead_letter``): the original message whole (``payload``, or
  ``payload_b64`` when it was not UTF-8), the topic, partition and offset it came from, the stage and the reason.
  Replaying it publishes the original bytes and key to that topic again. Every stage reading the topic sees the
  message again; stages are idempotent by id (deterministic article, claim, event, dispute and alert ids), so this
  is safe to repeat once the cause is fixed.
- an alert a sink refused for good (``news.alerts.v1.dlq``: ``stage=send_alerts``, ``sink``, ``error``,
  ``alert``). Replaying it delivers the alert to that sink again, even though the worker marked it done.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.errors import MessageError

__all__ = ["Redelivery", "Republish", "parse_record", "plan_replay", "reason", "summarise"]


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


def parse_record(value: bytes | None) -> dict[str, Any]:
    """A dead-letter record as a dict; a record that is not one is a ``MessageError`` (never a crash)."""
    if value is None:
        raise MessageError("empty record")
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MessageError(f"not a dead-letter record (not JSON: {e})") from e
    if not isinstance(data, dict) or not isinstance(data.get("stage"), str):
        raise MessageError("not a dead-letter record (no stage)")
    return data


def plan_replay(record: dict[str, Any]) -> Republish | Redelivery:
    """What replaying ``record`` means, or a ``MessageError`` saying why it cannot be replayed."""
    if "alert" in record and "sink" in record:
        alert, sink = record["alert"], record["sink"]
        if not isinstance(alert, dict) or not isinstance(sink, str) or not sink:
            raise MessageError("an alert record without an alert object or a sink name")
        return Redelivery(sink, alert)
    topic = record.get("topic")
    if not isinstance(topic, str) or not topic:
        raise MessageError("no source topic in the record")
    where = f"{topic} partition {record.get('partition')} offset {record.get('offset')}"
    if record.get("payload_truncated"):
        raise MessageError(f"the payload was cut to fit the dead-letter topic; the whole message is at {where}")
    key_bytes: bytes | None
    if isinstance(record.get("key_b64"), str):  # a key that was not UTF-8, kept exactly
        try:
            key_bytes = base64.b64decode(record["key_b64"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise MessageError(f"key_b64 is not base64: {e}") from e
    elif record.get("key") is None:
        key_bytes = None
    elif isinstance(record["key"], str):
        key_bytes = record["key"].encode("utf-8")
    else:
        raise MessageError("the key is not a string")
    if isinstance(record.get("payload"), str):
        value = record["payload"].encode("utf-8")
    elif isinstance(record.get("payload_b64"), str):
        try:
            value = base64.b64decode(record["payload_b64"], validate=True)
        except (binascii.Error, ValueError) as e:
            raise MessageError(f"payload_b64 is not base64: {e}") from e
    else:
        raise MessageError(f"the record holds no payload (the message at {where} had no value)")
    return Republish(topic, key_bytes, value)


_NUMBERS = re.compile(r"[\w.:-]*\d[\w.:-]*")  # a number, or an id or offset with digits in it


def reason(record: dict[str, Any], width: int = 80) -> str:
    """The record's error, with numbers and ids that hold digits folded (``article a1f3 has 5 chars`` ->
    ``article N has N chars``) so that records failing the same way count together."""
    text = " ".join(str(record.get("error", "")).split())
    text = _NUMBERS.sub("N", text)
    return text if len(text) <= width else text[: width - 1] + "…"


def summarise(records: Iterable[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """How many records failed in each stage for each (folded) reason."""
    return Counter((str(r.get("stage")), reason(r)) for r in records)
