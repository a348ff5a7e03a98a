"""A webhook that is down when a dispute opens gets its alerts later, from the retry topic, through a worker
restart: each alert once, nothing dead-lettered, nothing lost."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from newsrift.cli.demo import ingest_seeds, start_worker, stop_worker
from newsrift.runtime.lag import topic_lag
from newsrift.settings import Settings
from newsrift.topics import ALERT_RETRY, ALERTS, dlq, ensure_topics
from tests.unit.alerts.conftest import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for(log: Path, pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, log.read_text(errors="replace"))
        if m:
            return m
        time.sleep(0.5)
    raise AssertionError(f"no {pattern!r} in the worker log within {timeout:.0f}s:\n"
                         + log.read_text(errors="replace")[-4000:])


def _records(settings: Settings, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(settings.topic(topic), bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        return [m.value for m in consumer]
    finally:
        consumer.close()


def test_alerts_for_a_webhook_that_was_down_arrive_once_it_is_back(
    isolated: Settings, webhook: Receiver, tmp_path: Path
) -> None:
    settings = isolated
    ensure_topics(settings)
    webhook.fail_next = 10**6  # down: 503 for everything
    env = {
        "NEWSRIFT_WEBHOOK_URL": webhook.url,
        "NEWSRIFT_WATCHLIST": str(tmp_path / "watchlists.json"),
        # 2, 4, 8, 16 s ... so that a retry is soon due, and a later one is still waiting when the worker stops.
        "NEWSRIFT_ALERT_RETRY_FIRST_SECONDS": "2",
        "NEWSRIFT_ALERT_RETRY_MAX_SECONDS": "60",
    }
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log, env)
    try:
        summary = ingest_seeds(settings, tmp_path / "state")
        assert "failed=0" in summary, summary
        # The alerts agent's quick tries failed, the retrier tried twice more and scheduled a third; the worker is
        # stopped with retries held for their due time and not committed.
        _wait_for(log, r"event=alert_retry_scheduled .*attempt=3", 300)
    finally:
        stop_worker(worker)
    text = log.read_text(errors="replace")
    owed = set(re.findall(r"event=alert_retry_scheduled alert_id=(\S+)", text))
    assert owed
    assert not webhook.requests
    assert _records(settings, ALERT_RETRY)
    # The retries still owed show as the retry topic's lag (its consumer group is the retrier's own) ...
    assert topic_lag(settings)[settings.topic(ALERT_RETRY)] >= 1

    webhook.fail_next = 0  # back up
    worker = start_worker(settings, log, env)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if owed <= {r["headers"].get("Idempotency-Key") for r in webhook.requests}:
                break
            time.sleep(1)
        time.sleep(5)  # a repeat would come right behind
    finally:
        stop_worker(worker)
    got_ids = [r["headers"].get("Idempotency-Key") for r in webhook.requests]
    assert owed <= set(got_ids), (owed, got_ids, log.read_text(errors="replace")[-4000:])
    assert {r["json"]["alert_id"] for r in webhook.requests} == set(got_ids)
    assert len(got_ids) == len(set(got_ids)), got_ids  # once each, though the restart re-read held records
    assert "event=alert_retry_delivered" in log.read_text(errors="replace")
    assert _records(settings, dlq(ALERTS)) == []
    assert _records(settings, dlq(ALERT_RETRY)) == []
    # ... and none once they are delivered: every record was committed.
    assert topic_lag(settings)[settings.topic(ALERT_RETRY)] == 0
