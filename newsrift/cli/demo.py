"""``newsrift demo``: the whole pipeline on the seed feeds, against the real local services."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from newsrift.cli import services
from newsrift.errors import NewsriftError
from newsrift.settings import REPO_ROOT, Settings
from newsrift.stages.index.core import IndexNames

SEED_REGISTRY = REPO_ROOT / "seeds" / "outlets.toml"


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"NEWSRIFT_{name.upper()}"] = str(value)
    return env


def start_worker(
    settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = settings_env(settings) | (extra_env or {})
    with log_path.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "newsrift.cli.main", "worker", "--loglevel", "info"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO_ROOT,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def ingest_seeds(settings: Settings, state_dir: Path, registry: Path = SEED_REGISTRY) -> str:
    """Poll every seed feed once into the raw topic; returns the ingest summary line."""
    cmd = [sys.executable, "-m", "newsrift.cli.main", "ingest", "--once", "--registry", str(registry),
           "--state-dir", str(state_dir), "--bootstrap", settings.kafka_bootstrap,
           "--topic", settings.topic("news.articles.raw.v1")]
    res = subprocess.run(cmd, capture_output=True, text=True, env=settings_env(settings), cwd=REPO_ROOT, timeout=300)
    if res.returncode != 0:
        raise NewsriftError(f"ingest failed (exit {res.returncode}): {res.stderr.strip()[-2000:]}")
    return res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""


def seed_item_count(registry: Path = SEED_REGISTRY) -> int:
    import feedparser

    feeds = sorted((registry.parent / "feeds").glob("*.xml"))
    return sum(len(feedparser.parse(str(f)).entries) for f in feeds)


def count(es: Any, names: IndexNames, kind: str, query: dict[str, Any] | None = None) -> int:
    try:
        es.indices.refresh(index=names.alias(kind))
        return int(es.count(index=names.alias(kind), query=query or {"match_all": {}})["count"])
    except Exception:
        return 0


def wait_for_index(settings: Settings, articles: int, disputes: int, timeout: float,
                   worker: subprocess.Popen[bytes] | None = None) -> dict[str, int]:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(settings.es_url, request_timeout=10)
    names = IndexNames(settings.index_prefix)
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    try:
        while time.monotonic() < deadline:
            seen = {k: count(es, names, k) for k in ("articles", "claims", "events", "disputes", "alerts")}
            placed = count(es, names, "articles", {"exists": {"field": "event_id"}})
            if seen["articles"] >= articles and placed >= articles and seen["disputes"] >= disputes:
                return seen
            if worker is not None and worker.poll() is not None:
                raise NewsriftError(f"the worker exited with code {worker.returncode}")
            time.sleep(1.0)
    finally:
        es.close()
    raise NewsriftError(f"timed out after {timeout:.0f}s waiting for {articles} articles and {disputes} disputes; "
                        f"indexed so far: {seen}")


def print_report(settings: Settings) -> None:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(settings.es_url, request_timeout=10)
    names = IndexNames(settings.index_prefix)
    try:
        arts = es.search(index=names.alias("articles"), size=50, sort=[{"published": "asc"}])["hits"]["hits"]
        print(f"\n== {len(arts)} articles indexed in {names.alias('articles')}")
        for h in arts:
            d = h["_source"]
            dup = f"  reprint of {d['duplicate_of']}" if d.get("duplicate_of") else ""
            print(f"  {d.get('published')}  {d.get('outlet_id'):<16} event={d.get('event_id')}  {d.get('title')}{dup}")
        disp = es.search(index=names.alias("disputes"), size=20)["hits"]["hits"]
        print(f"\n== {len(disp)} disputes in {names.alias('disputes')}")
        for h in disp:
            d = h["_source"]
            print(f"  [{d['kind']}] {d['topic']}  confidence={d['confidence']:.2f} status={d['status']}")
            for s in d["sides"]:
                print(f"     - {s['speaker']} via {', '.join(s.get('outlets') or [])} ({s.get('polarity')}):")
                print(f"       \"{s['quote']}\"  [{s['article_id']} {s['start']}:{s['end']}]")
        alerts = count(es, names, "alerts")
        print(f"\n== {alerts} alerts in {names.alias('alerts')}")
    finally:
        es.close()


def run_demo(settings: Settings, timeout: float = 240.0, keep_worker: bool = False) -> int:
    infos = services.up(settings)
    for info in infos:
        print(json.dumps({k: v for k, v in info.items() if k != "node"}, default=str))
    from newsrift.topics import ensure_topics

    ensure_topics(settings)
    run = settings.home / "run"
    run.mkdir(parents=True, exist_ok=True)
    worker = start_worker(settings, settings.home / "logs" / "worker.log")
    (run / "worker.pid").write_text(str(worker.pid))
    print(f"worker started (pid {worker.pid}, log {settings.home / 'logs' / 'worker.log'})")
    try:
        summary = ingest_seeds(settings, settings.home / "state" / "connectors")
        print(f"ingest: {summary}")
        seen = wait_for_index(settings, seed_item_count(), 1, timeout, worker)
        print("indexed: " + " ".join(f"{k}={v}" for k, v in seen.items()))
        print_report(settings)
    finally:
        if not keep_worker:
            stop_worker(worker)
            (run / "worker.pid").unlink(missing_ok=True)
    return 0
