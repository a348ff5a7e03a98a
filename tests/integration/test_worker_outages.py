"""The running worker rides out an outage of Elasticsearch and a restart of the Kafka broker: it does not crash,
and every seed article is indexed once the service is back (nothing dropped, nothing dead-lettered)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from newsrift.cli import services
from newsrift.cli.demo import ingest_seeds, seed_item_count, start_worker, stop_worker, wait_for_index
from newsrift.runtime.lag import topic_lag
from newsrift.settings import Settings
from newsrift.topics import RAW_ARTICLES, dlq, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _wait_for_line(log: Path, text: str, timeout: float, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} in the worker log within {timeout:.0f}s:\n"
                         + log.read_text(errors="replace")[-3000:])


def _health(settings: Settings) -> tuple[int, dict]:
    """GET /health on the worker's web port: (status code, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.web_port}/health", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _health_until(settings: Settings, code: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        got, body = _health(settings)
        if got == code or time.monotonic() > deadline:
            assert got == code, body
            return body
        time.sleep(1)


def _dead_letters(settings: Settings) -> int:
    consumer = KafkaConsumer(dlq(settings.topic(RAW_ARTICLES)), bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=2000)
    try:
        return sum(1 for _ in consumer)
    finally:
        consumer.close()


@pytest.fixture()
def es_service(isolated: Settings) -> Iterator[services.Elasticsearch]:
    es = services.Elasticsearch(isolated)
    yield es
    es.up()  # whatever happened, the node is back for the tests that follow (and for this test's own cleanup)


@pytest.fixture()
def kafka_service(isolated: Settings) -> Iterator[services.Kafka]:
    kafka = services.Kafka(isolated)
    yield kafka
    kafka.up()


@contextlib.contextmanager
def _ready_worker(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A worker on this test's topics, past start-up (templates installed, partitions assigned); stopped after."""
    ensure_topics(settings)
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log)
    try:
        _wait_for_line(log, "Worker]: Ready", 120, worker)
        _wait_for_line(log, "event=indexer_ready", 60, worker)
        yield worker, log
    finally:
        stop_worker(worker)


def _everything_indexed(settings: Settings, seen: dict[str, int]) -> None:
    assert seen["articles"] == seed_item_count()
    assert _dead_letters(settings) == 0


def test_an_elasticsearch_outage_delays_indexing_and_loses_nothing(
    isolated: Settings, es_service: services.Elasticsearch, tmp_path: Path
) -> None:
    with _ready_worker(isolated, tmp_path) as (worker, log):
        assert es_service.down()
        ingest_seeds(isolated, tmp_path / "state")
        _wait_for_line(log, "event=bulk_retry", 120, worker)  # the outage was met, not slept through
        time.sleep(5)
        assert worker.poll() is None, "the worker died during the Elasticsearch outage"
        during = _health_until(isolated, 503, 30)
        es_service.up()
        seen = wait_for_index(isolated, seed_item_count(), 1, 240, worker)
        after = _health_until(isolated, 200, 60)
    _everything_indexed(isolated, seen)
    # GET /health said what was wrong while it was wrong, and what the stages did once it was not.
    assert during["status"] == "degraded" and not during["checks"]["elasticsearch"]["ok"], during
    assert during["checks"]["kafka"]["ok"], during
    # The indexer waits inside its batch (its offsets uncommitted); it is not starting over.
    assert during["checks"]["indexer"] == {"ok": True, "detail": "consuming"}, during
    assert after["status"] == "ok" and after["checks"]["elasticsearch"]["ok"], after
    assert after["received_by_topic"][isolated.topic(RAW_ARTICLES)] == seed_item_count(), after
    assert during["lag_by_topic"] is not None and after["lag_by_topic"] is not None, (during, after)
    # While Elasticsearch was down the indexer held its offsets, so its input topics had a backlog.
    assert sum(during["lag_by_topic"].values()) > 0, during


def test_a_kafka_broker_restart_does_not_stop_the_worker(
    isolated: Settings, kafka_service: services.Kafka, tmp_path: Path
) -> None:
    with _ready_worker(isolated, tmp_path) as (worker, _):
        assert kafka_service.down()
        time.sleep(10)  # the worker's consumers and producer lose the broker
        assert worker.poll() is None, "the worker died when the broker went away"
        kafka_service.up()
        ingest_seeds(isolated, tmp_path / "state")
        seen = wait_for_index(isolated, seed_item_count(), 1, 300, worker)
    _everything_indexed(isolated, seen)


def test_a_kafka_broker_restart_in_the_middle_of_the_work_loses_nothing(
    isolated: Settings, kafka_service: services.Kafka, tmp_path: Path
) -> None:
    with _ready_worker(isolated, tmp_path) as (worker, log):
        ingest_seeds(isolated, tmp_path / "state")
        # The broker goes as soon as the seed articles are in: the worker is fetching or analysing them.
        assert kafka_service.down()
        time.sleep(10)
        assert worker.poll() is None, "the worker died when the broker went away mid-work"
        during = _health_until(isolated, 503, 30)
        kafka_service.up()
        seen = wait_for_index(isolated, seed_item_count(), 1, 300, worker)
        # What the filter held back is reported once the repeats stop (a 30 s timer).
        _wait_for_line(log, "event=log_lines_held", 90, worker)
        after = _health_until(isolated, 200, 60)
        text = log.read_text(errors="replace")
    _everything_indexed(isolated, seen)
    assert not during["checks"]["kafka"]["ok"] and "broker error" in during["checks"]["kafka"]["detail"], during
    assert after["checks"]["kafka"]["ok"] and after["checks"]["elasticsearch"]["ok"], after
    # aiokafka logs each failed connect and metadata retry, thousands a second; the worker keeps one of identical
    # lines per 30 s (newsrift/runtime/logfilter.py), so a long outage cannot fill the disk.
    assert text.count("Unable connect to node") < 20, text.count("Unable connect to node")
    held = [int(n) for n in re.findall(r"event=log_lines_held .*count=(\d+)", text)]
    assert held and sum(held) > 100, held  # the flood happened, and was counted rather than written


def test_a_worker_stops_on_request_while_elasticsearch_is_down(
    isolated: Settings, es_service: services.Elasticsearch, tmp_path: Path
) -> None:
    """SIGTERM in an outage: the worker exits by itself (a Faust agent holding unindexed messages used to hold the
    stop, as it held every rebalance, until the SIGKILL), and the next worker indexes what this one could not."""
    with _ready_worker(isolated, tmp_path) as (worker, log):
        assert es_service.down()
        ingest_seeds(isolated, tmp_path / "state")
        _wait_for_line(log, "event=bulk_retry", 120, worker)
        lag_before_stop = topic_lag(isolated)
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            code: int | None = worker.wait(45)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, log.read_text(errors="replace")[-3000:]
    # The unindexed batches were not committed: the indexer's group is behind on the topics it writes.
    assert sum(n or 0 for key, n in lag_before_stop.items() if key.endswith("@index")) > 0, lag_before_stop
    es_service.up()
    with _ready_worker(isolated, tmp_path / "second") as (worker, log):
        seen = wait_for_index(isolated, seed_item_count(), 1, 240, worker)
    _everything_indexed(isolated, seen)
