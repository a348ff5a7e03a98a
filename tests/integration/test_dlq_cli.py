"""``newsrift dlq`` on the real broker: dead-letter records are listed, and replayed back to their source topic
byte for byte, or to the alert sink that refused them; a record that is no envelope is reported and left there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from kafka import KafkaProducer

from newsrift.cli.demo import settings_env
from newsrift.cli.dlq import counts, read_records, replay
from newsrift.settings import REPO_ROOT, Settings
from newsrift.stages.alerts import Alert
from newsrift.stages.alerts.retry import alert_dead_letter
from newsrift.streaming import dead_letter, encode
from newsrift.topics import ALERTS, RAW_ARTICLES, dlq, ensure_topics
from tests.unit.alerts.conftest import Receiver

pytestmark = pytest.mark.integration


def _send(settings: Settings, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def test_dead_letters_are_listed_and_replayed_to_where_they_came_from(
    isolated: Any, webhook: Receiver, make_alert: Callable[[int], Alert]
) -> None:
    settings: Settings = isolated.model_copy(update={"webhook_url": webhook.url})
    ensure_topics(settings)
    raw, raw_dlq, alerts_dlq = (settings.topic(RAW_ARTICLES), settings.topic(dlq(RAW_ARTICLES)),
                                settings.topic(dlq(ALERTS)))
    text, binary = '{"article_id": "a1", "title": "Ünïcode"'.encode(), b"\xff\xfe\x00 not text"

    def env(value: bytes | None, key: bytes | None, offset: int) -> tuple[bytes | None, bytes]:
        return key, encode(dead_letter(stage="analyse_articles", topic=raw, partition=0, offset=offset, key=key,
                                       value=value, error=f"not JSON: at char {offset}"))

    _send(settings, raw_dlq, [env(text, b"k1", 7), env(binary, None, 8), env(None, b"k3", 9)])
    alert = make_alert(1)
    untagged = json.dumps({"stage": "send_alerts", "sink": "webhook", "alert": alert.to_json()}).encode()
    _send(settings, alerts_dlq, [
        (alert.alert_id.encode(), encode(alert_dead_letter(alert.alert_id, "webhook", "webhook webhook: HTTP 503",
                                                           alert.to_json()))),
        (b"x", untagged),
    ])

    held = counts(settings)
    assert held[raw_dlq] == 3 and held[alerts_dlq] == 2

    # A dry run sends nothing.
    dry = replay(settings, raw_dlq, dry_run=True)
    assert [(o, ok) for o, _, ok in dry] == [(0, True), (1, True), (2, False)]
    assert list(read_records(settings, raw)) == []

    done = replay(settings, raw_dlq)
    assert [(o, ok) for o, _, ok in done] == [(0, True), (1, True), (2, False)]
    assert "had no value" in done[2][1]
    back = {r.value: r.key for r in read_records(settings, raw)}
    assert back == {text: b"k1", binary: None}

    # Only offset 1 again: one more copy of the binary message, nothing else.
    again = replay(settings, raw_dlq, first=1, last=1)
    assert [(o, ok) for o, _, ok in again] == [(1, True)]
    assert sorted(r.value or b"" for r in read_records(settings, raw)) == sorted([text, binary, binary])

    result, refused = replay(settings, alerts_dlq)
    assert result[2] and alert.alert_id in result[1]
    assert [r["json"]["alert_id"] for r in webhook.requests] == [alert.alert_id]
    assert (refused[0], refused[2]) == (1, False) and "not a dead-letter envelope (no 'type'" in refused[1]
    assert counts(settings)[alerts_dlq] == 2  # the record that did not decode is still there

    # The CLI: a summary per topic with the folded reasons; a replay with a record it cannot send exits 1.
    cli = [sys.executable, "-m", "newsrift.cli.main", "dlq"]
    listed = subprocess.run([*cli, "list"], env=settings_env(settings), cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert f"{raw_dlq}\t3 records" in listed.stdout
    assert "3  stage=analyse_articles  not JSON: at char N" in listed.stdout
    assert f"{alerts_dlq}\t2 records" in listed.stdout
    assert "1  stage=?  unreadable: not a dead-letter envelope (no 'type'" in listed.stdout
    shown = subprocess.run([*cli, "show", RAW_ARTICLES, "--limit", "1"], env=settings_env(settings), cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.splitlines()
    shown_record = json.loads(line)
    assert (shown_record["dlq_offset"], shown_record["offset"], shown_record["payload"]) == (0, 7, text.decode())
    assert shown_record["type"] == "failed_message"
    shown = subprocess.run([*cli, "show", ALERTS, "--from", "1", "--full"], env=settings_env(settings),
                           cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    (line,) = shown.stdout.splitlines()
    assert json.loads(line) == {"dlq_offset": 1, "unreadable": "not a dead-letter envelope (no 'type'; a dead-letter "
                                "topic carries failed_alert, failed_message)", "raw": untagged.decode()}
    rerun = subprocess.run([*cli, "replay", RAW_ARTICLES, "--dry-run"], env=settings_env(settings), cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 1
    assert "2 of 3 records would be sent again" in rerun.stdout
    missing = subprocess.run([*cli, "show", "no.such.topic"], env=settings_env(settings), cwd=REPO_ROOT,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no topic" in missing.stderr and "Traceback" not in missing.stderr
