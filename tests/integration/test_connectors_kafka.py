"""Seed items reach Kafka exactly once across restarts of `newsrift ingest` (real broker)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from newsrift.model import RawArticle

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def ingest(bootstrap: str, topic: str, state: Path) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "newsrift.cli.main", "ingest", "--once", "--registry", str(ROOT / "seeds/outlets.toml"),
         "--state-dir", str(state), "--bootstrap", bootstrap, "--topic", topic],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip().splitlines()[-1]


def records(bootstrap: str, topic: str) -> list[tuple[str, RawArticle]]:
    c = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=4000,
                      enable_auto_commit=False)
    try:
        return [(m.key.decode(), RawArticle.from_json(json.loads(m.value))) for m in c]
    finally:
        c.close()


def keys(bootstrap: str, topic: str) -> list[str]:
    got = records(bootstrap, topic)
    assert all(key == raw.article_id for key, raw in got)  # key = article id: revisions share a partition
    return [key for key, _ in got]


def test_each_item_is_published_once_across_restarts(kafka_bootstrap: str, unique_topic: Callable[..., str],
                                                     tmp_path: Path) -> None:
    topic = unique_topic("raw", partitions=3)
    first = ingest(kafka_bootstrap, topic, tmp_path / "state")
    assert first.startswith("feeds ok=4 not_modified=0 failed=0 items new=5")
    second = ingest(kafka_bootstrap, topic, tmp_path / "state")  # a restart with the same state: nothing new
    assert second.endswith("new=0 updated=0 skipped=5")
    got = keys(kafka_bootstrap, topic)
    assert len(got) == 5 and len(set(got)) == 5


def test_a_fresh_state_dir_republishes_the_same_keys(kafka_bootstrap: str, unique_topic: Callable[..., str],
                                                     tmp_path: Path) -> None:
    topic = unique_topic("raw", partitions=1)
    ingest(kafka_bootstrap, topic, tmp_path / "a")
    assert ingest(kafka_bootstrap, topic, tmp_path / "b").endswith("new=5 updated=0 skipped=0")
    got = keys(kafka_bootstrap, topic)
    # Ids are deterministic: the second run duplicates by key, which a compacted topic or a consumer dedupes.
    assert len(got) == 10 and len(set(got)) == 5


def test_kafka_down_keeps_items_for_the_next_run(tmp_path: Path, kafka_bootstrap: str,
                                                 unique_topic: Callable[..., str]) -> None:
    # Nothing listens on port 9: the run fails clearly and marks nothing seen.
    res = subprocess.run(
        [sys.executable, "-m", "newsrift.cli.main", "ingest", "--once", "--registry", str(ROOT / "seeds/outlets.toml"),
         "--state-dir", str(tmp_path / "state"), "--bootstrap", "127.0.0.1:9", "--topic", "unused"],
        capture_output=True, text=True, cwd=ROOT, timeout=180,
    )
    assert res.returncode != 0 and "error" in res.stderr.lower()
    topic = unique_topic("raw", partitions=1)
    assert ingest(kafka_bootstrap, topic, tmp_path / "state").startswith("feeds ok=4 not_modified=0 failed=0 "
                                                                         "items new=5")


def test_the_long_running_poller_stops_on_sigterm_and_a_restart_adds_nothing(
        kafka_bootstrap: str, unique_topic: Callable[..., str], tmp_path: Path) -> None:
    topic = unique_topic("raw", partitions=2)
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsrift.cli.main", "ingest", "--registry", str(ROOT / "seeds/outlets.toml"),
         "--state-dir", str(state), "--bootstrap", kafka_bootstrap, "--topic", topic],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        # The poller saves a feed's state after its items were acknowledged: four states with seen items = all in.
        while time.monotonic() < deadline:
            done = [p for p in state.glob("kafka/*/*.json") if json.loads(p.read_text()).get("last_success")]
            if len(done) == 4:
                break
            time.sleep(0.5)
        assert len(done) == 4, f"feed states after 60 s: {sorted(p.name for p in state.rglob('*.json'))}"
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    assert ingest(kafka_bootstrap, topic, state).endswith("new=0 updated=0 skipped=5")
    got = keys(kafka_bootstrap, topic)
    assert len(got) == 5 and len(set(got)) == 5
