"""The real worker dead-letters what it cannot handle, with the reason, and goes on with the rest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

from newsrift.cli.demo import start_worker, stop_worker, wait_for_index
from newsrift.messages import RawArticleMessage
from newsrift.model import RawArticle
from newsrift.settings import Settings
from newsrift.stages.index.core import IndexNames
from newsrift.topics import RAW_ARTICLES, dlq, ensure_topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bad_messages_go_to_the_dead_letter_topic_and_good_ones_are_indexed(isolated: Settings, tmp_path: Path) -> None:
    settings = isolated
    ensure_topics(settings)
    raw_topic = settings.topic(RAW_ARTICLES)
    good = RawArticle(article_id="good1", outlet_id="o1", url="https://o1.example/1", title="Quake hits town",
                      content="<p>The mayor said that five people were killed when the quake hit the town.</p>")
    empty = RawArticle(article_id="empty1", outlet_id="o1", url="https://o1.example/2", title="Nothing", content="")
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    good2 = RawArticle(article_id="good2", outlet_id="o2", url="https://o2.example/1", title="Flood in the valley",
                       content="<p>Police said that 12 people were rescued from the flood in the valley.</p>")

    def tagged(raw: RawArticle) -> dict:
        return RawArticleMessage(raw).to_json()

    numeric_date = {**tagged(good), "article_id": "date1", "published": 1700000000}
    list_content = {**tagged(good), "article_id": "list1", "content": ["x"]}
    huge_number = json.dumps({**tagged(good), "article_id": "inf1"}).encode()[:-1] + b', "revision": 1e400}'
    too_long = {**tagged(good), "article_id": "long1", "content": "The mayor said more. " * 30_000}
    for key, value in [(b"junk", b"{not json"), (b"nofields", b'{"type": "raw_article", "title": "x"}'),
                       (b"untagged", json.dumps(good.to_json()).encode()),
                       (b"empty1", json.dumps(tagged(empty)).encode()),
                       (b"date1", json.dumps(numeric_date).encode()),
                       (b"list1", json.dumps(list_content).encode()),
                       (b"inf1", huge_number),
                       (b"long1", json.dumps(too_long).encode()),
                       (b"good1", json.dumps(tagged(good)).encode()),
                       (b"good2", json.dumps(tagged(good2)).encode())]:
        producer.send(raw_topic, key=key, value=value).get(10)
    producer.close()
    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        wait_for_index(settings, 2, 0, 180, worker)
        es = Elasticsearch(settings.es_url)
        alias = IndexNames(settings.index_prefix).alias("articles")
        es.indices.refresh(index=alias)
        indexed = {h["_id"] for h in es.search(index=alias, size=20)["hits"]["hits"]}
        es.close()
        consumer = KafkaConsumer(dlq(raw_topic), bootstrap_servers=settings.kafka_bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=3000)
        deadline = time.monotonic() + 60
        letters: dict[str, dict] = {}
        while len(letters) < 8 and time.monotonic() < deadline:
            for m in consumer:
                env = json.loads(m.value)
                letters[env["key"]] = env
        consumer.close()
    finally:
        stop_worker(worker)
    assert indexed == {"good1", "good2"}  # good messages on both sides of the bad ones
    assert set(letters) == {"junk", "nofields", "untagged", "empty1", "date1", "list1", "inf1", "long1"}
    assert "not JSON" in letters["junk"]["error"] and letters["junk"]["payload"] == "{not json"
    assert "missing field" in letters["nofields"]["error"]
    assert "no 'type' on news.articles.raw.v1" in letters["untagged"]["error"]
    assert "no text" in letters["empty1"]["error"]
    assert "'published' must be an ISO 8601 time string, not int" in letters["date1"]["error"]
    assert "'content' must be a string, not list" in letters["list1"]["error"]
    assert "out of range" in letters["inf1"]["error"]
    assert "over the limit of" in letters["long1"]["error"] and letters["long1"]["offset"] is not None
    assert json.loads(letters["date1"]["payload"])["published"] == 1700000000
    assert all(e["type"] == "failed_message" and e["stage"] == "analyse_articles" and e["topic"] == raw_topic
               for e in letters.values())
