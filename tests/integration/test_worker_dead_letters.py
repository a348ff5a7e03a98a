"""The real worker dead-letters what it cannot handle, with the reason, and goes on with the rest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer

from newsrift.demo import start_worker, stop_worker, wait_for_index
from newsrift.settings import Settings
from pipeline.model import RawArticle
from pipeline.topics import RAW_ARTICLES, dlq, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bad_messages_go_to_the_dead_letter_topic_and_good_ones_are_indexed(isolated: Settings, tmp_path: Path) -> None:
    settings = isolated
    ensure_topics(settings)
    raw_topic = settings.topic(RAW_ARTICLES)
    good = RawArticle(article_id="good1", outlet_id="o1", url="https://o1.example/1", title="Quake hits town",
                      content="<p>The mayor said that five people were killed when the quake hit the town.</p>")
    empty = RawArticle(article_id="empty1", outlet_id="o1", url="https://o1.example/2", title="Nothing", content="")
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for key, value in [(b"junk", b"{not json"), (b"nofields", b'{"title": "x"}'),
                       (b"empty1", json.dumps(empty.to_json()).encode()),
                       (b"good1", json.dumps(good.to_json()).encode())]:
        producer.send(raw_topic, key=key, value=value).get(10)
    producer.close()
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for_index(settings, 1, 0, 180, worker)
        consumer = KafkaConsumer(dlq(raw_topic), bootstrap_servers=settings.kafka_bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        deadline = time.monotonic() + 60
        letters: dict[str, dict] = {}
        while len(letters) < 3 and time.monotonic() < deadline:
            for m in consumer:
                env = json.loads(m.value)
                letters[env["key"]] = env
        consumer.close()
    finally:
        stop_worker(worker)
    assert set(letters) == {"junk", "nofields", "empty1"}
    assert "not JSON" in letters["junk"]["error"] and letters["junk"]["payload"] == "{not json"
    assert "missing field" in letters["nofields"]["error"]
    assert "no text" in letters["empty1"]["error"]
    assert all(e["stage"] == "analyse_articles" and e["topic"] == raw_topic for e in letters.values())
