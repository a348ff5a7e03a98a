"""Dead-letter envelopes: their type tags, the one decoder, what a replay does, and the summary (no Kafka here)."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timezone

import pytest

from newsrift.dead_letters import (
    FailedAlert,
    FailedMessage,
    Redelivery,
    Republish,
    decode_dead_letter,
    plan_replay,
    reason,
    summarise,
)
from newsrift.errors import MessageError
from newsrift.stages.alerts.retry import alert_dead_letter
from newsrift.streaming import dead_letter, encode

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def envelope(value: bytes | None, key: bytes | None = b"k1", error: str = "not JSON: boom") -> FailedMessage:
    env = dead_letter(stage="analyse_articles", topic="news.articles.raw.v1", partition=2, offset=41, key=key,
                      value=value, error=error, now=T)
    record = decode_dead_letter(encode(env))  # as the CLI reads it back from the topic
    assert isinstance(record, FailedMessage)
    return record


def test_a_utf8_message_is_republished_byte_for_byte_with_its_key() -> None:
    original = '{"article_id": "a1", "title": "Ünïcode"'.encode()
    assert plan_replay(envelope(original)) == Republish("news.articles.raw.v1", b"k1", original)


def test_a_message_that_was_not_utf8_comes_back_from_base64() -> None:
    original = b"\xff\xfe not text \x00"
    env = envelope(original, key=None)
    assert env.payload_b64 and env.payload is None
    assert plan_replay(env) == Republish("news.articles.raw.v1", None, original)


def test_a_key_that_was_not_utf8_is_republished_exactly() -> None:
    env = envelope(b"v", key=b"\xffk\x00")
    assert env.key_b64 and plan_replay(env) == Republish("news.articles.raw.v1", b"\xffk\x00", b"v")
    assert envelope(b"v", key=b"plain").key_b64 is None


def test_records_that_cannot_be_replayed_say_why() -> None:
    with pytest.raises(MessageError, match="had no value"):
        plan_replay(envelope(None))
    cut = dataclasses.replace(envelope(b"x" * 10), payload_truncated=True)
    with pytest.raises(MessageError, match=r"news\.articles\.raw\.v1 partition 2 offset 41"):
        plan_replay(cut)
    with pytest.raises(MessageError, match="not base64"):
        plan_replay(FailedMessage("s", "t", 0, 1, "e", payload_b64="%%%"))
    with pytest.raises(MessageError, match="without a 'topic'"):
        decode_dead_letter(json.dumps({"type": "failed_message", "stage": "s", "payload": "x"}))


def test_an_alert_a_sink_refused_is_delivered_again_to_that_sink() -> None:
    alert = {"alert_id": "al1", "kind": "numeric"}
    record = decode_dead_letter(encode(alert_dead_letter("al1", "webhook", "HTTP 400", alert)))
    assert record == FailedAlert("send_alerts", "webhook", "HTTP 400", alert)
    assert plan_replay(record) == Redelivery("webhook", alert)
    with pytest.raises(MessageError, match="failed_alert without a 'sink'"):
        decode_dead_letter(json.dumps({"type": "failed_alert", "stage": "send_alerts", "sink": "", "alert": alert}))


def test_the_summary_counts_records_failing_the_same_way_together() -> None:
    records = [
        envelope(b"x", error="article a1 text has 1200000 characters, over 200000"),
        envelope(b"y", error="article b2 text has 1300000 characters, over 200000"),
        envelope(b"z", error="not JSON: Expecting value: line 1 column 1 (char 0)"),
    ]
    counts = summarise(records)
    assert counts == {
        ("analyse_articles", "article N text has N characters, over N"): 2,
        ("analyse_articles", "not JSON: Expecting value: line N column N (char N)"): 1,
    }
    assert reason("x" * 200, width=20).endswith("…") and len(reason("x" * 200, width=20)) == 20
    assert summarise([MessageError("not a dead-letter envelope (no 'type'; ...)")]) == {
        ("?", "unreadable: not a dead-letter envelope (no 'type'; ...)"): 1}


def test_every_envelope_carries_its_type_and_decodes_back_to_what_was_written() -> None:
    env = dead_letter(stage="index", topic="news.events.v1", partition=1, offset=5, key=b"\xff", value=b"{}",
                      error="boom", now=T)
    assert env["type"] == "failed_message"
    record = decode_dead_letter(encode(env))
    assert record.to_json() == env
    alert = alert_dead_letter("al1", "email", "refused", {"alert_id": "al1"})
    assert alert["type"] == "failed_alert" and decode_dead_letter(encode(alert)).to_json() == alert


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (None, "empty record"),
        (b"", "not JSON"),
        (b"\xff", "not JSON"),
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"stage": "s", "topic": "t", "payload": "x"}', "no 'type'"),
        (b'{"type": "claim", "stage": "s"}', "type 'claim'"),
        (b'{"type": 7, "stage": "s"}', "type '7'"),
        (b'{"type": "failed_message", "stage": "s", "topic": "t", "offset": "41"}', "'offset' must be an integer"),
        (b'{"type": "failed_alert", "stage": "s", "sink": "w", "alert": []}', "without an 'alert' object"),
    ],
)
def test_a_record_that_is_not_an_envelope_is_refused_with_the_reason(value: bytes | None, why: str) -> None:
    with pytest.raises(MessageError, match=re.escape(why)) as raised:
        decode_dead_letter(value)
    if why.startswith(("no 'type'", "type ")):  # a missing or unknown tag: the error names the ones there are
        assert "a dead-letter topic carries failed_alert, failed_message" in str(raised.value)
