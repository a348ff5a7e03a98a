"""Dead-letter records: parsing, what a replay does, and the summary (no Kafka here)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from pipeline.dlq import Redelivery, Republish, parse_record, plan_replay, reason, summarise
from pipeline.errors import MessageError
from pipeline.streaming import dead_letter, encode

T = datetime(2026, 1, 1, tzinfo=timezone.utc)


def envelope(value: bytes | None, key: bytes | None = b"k1", error: str = "not JSON: boom") -> dict[str, object]:
    env = dead_letter(stage="analyse_articles", topic="news.articles.raw.v1", partition=2, offset=41, key=key,
                      value=value, error=error, now=T)
    return parse_record(encode(env))  # as the CLI reads it back from the topic


def test_a_utf8_message_is_republished_byte_for_byte_with_its_key() -> None:
    original = '{"article_id": "a1", "title": "Ünïcode"'.encode()
    assert plan_replay(envelope(original)) == Republish("news.articles.raw.v1", b"k1", original)


def test_a_message_that_was_not_utf8_comes_back_from_base64() -> None:
    original = b"\xff\xfe not text \x00"
    env = envelope(original, key=None)
    assert "payload_b64" in env and "payload" not in env
    assert plan_replay(env) == Republish("news.articles.raw.v1", None, original)


def test_a_key_that_was_not_utf8_is_republished_exactly() -> None:
    env = envelope(b"v", key=b"\xffk\x00")
    assert env["key_b64"] and plan_replay(env) == Republish("news.articles.raw.v1", b"\xffk\x00", b"v")
    assert "key_b64" not in envelope(b"v", key=b"plain")


def test_records_that_cannot_be_replayed_say_why() -> None:
    with pytest.raises(MessageError, match="had no value"):
        plan_replay(envelope(None))
    cut = envelope(b"x" * 10) | {"payload_truncated": True}
    with pytest.raises(MessageError, match=r"news\.articles\.raw\.v1 partition 2 offset 41"):
        plan_replay(cut)
    with pytest.raises(MessageError, match="not base64"):
        plan_replay({"stage": "s", "topic": "t", "payload_b64": "%%%"})
    with pytest.raises(MessageError, match="no source topic"):
        plan_replay({"stage": "s", "payload": "x"})
    for bad in (None, b"", b"[1, 2]", b"{\"no\": \"stage\"}", b"\xff"):
        with pytest.raises(MessageError):
            parse_record(bad)


def test_an_alert_a_sink_refused_is_delivered_again_to_that_sink() -> None:
    alert = {"alert_id": "al1", "kind": "numeric"}
    record = parse_record(json.dumps({"stage": "send_alerts", "sink": "webhook", "error": "HTTP 400",
                                      "alert": alert}).encode())
    assert plan_replay(record) == Redelivery("webhook", alert)
    with pytest.raises(MessageError, match="sink"):
        plan_replay({"stage": "send_alerts", "sink": "", "alert": alert})


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
    assert reason({"error": "x" * 200}, width=20).endswith("…") and len(reason({"error": "x" * 200}, width=20)) == 20
