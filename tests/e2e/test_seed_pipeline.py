"""Seed feeds in, through the real worker, to searchable documents, a dispute in Elasticsearch, and exactly one
webhook call and one e-mail per dispute change -- also after a worker restart and a full re-ingest."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from newsrift.cli.demo import ingest_seeds, seed_item_count, start_worker, stop_worker, wait_for_index
from newsrift.cli.search import run_search
from newsrift.runtime.lag import wait_drained
from newsrift.settings import Settings
from newsrift.stages.index.core import IndexNames
from newsrift.topics import all_topic_names, ensure_topics

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


class Webhook:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.calls.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture()
def sinks() -> Iterator[tuple[Webhook, list[Any], int]]:
    from aiosmtpd.controller import Controller

    mails: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
    smtp.start()
    hook = Webhook()
    try:
        yield hook, mails, port
    finally:
        hook.close()
        smtp.stop()


def _disputes(settings: Settings) -> list[dict[str, Any]]:
    es = Elasticsearch(settings.es_url)
    try:
        es.indices.refresh(index=IndexNames(settings.index_prefix).alias("disputes"))
        hits = es.search(index=IndexNames(settings.index_prefix).alias("disputes"), size=50)["hits"]["hits"]
        return [h["_source"] for h in hits]
    finally:
        es.close()


def _article_text(settings: Settings, article_id: str) -> str:
    es = Elasticsearch(settings.es_url)
    try:
        return str(es.get(index=IndexNames(settings.index_prefix).alias("articles"), id=article_id)["_source"]["text"])
    finally:
        es.close()


def test_seed_feeds_end_to_end(isolated: Settings, sinks: tuple[Webhook, list[Any], int], tmp_path: Path) -> None:
    hook, mails, smtp_port = sinks
    settings = isolated
    assert ensure_topics(settings)
    alert_env = {
        "NEWSRIFT_WEBHOOK_URL": hook.url,
        "NEWSRIFT_SMTP_HOST": "127.0.0.1",
        "NEWSRIFT_SMTP_PORT": str(smtp_port),
        "NEWSRIFT_ALERT_EMAIL_TO": "desk@newsroom.invalid",
        "NEWSRIFT_WATCHLIST": str(tmp_path / "watchlists.json"),
    }
    log = tmp_path / "worker.log"
    worker = start_worker(settings, log, alert_env)
    try:
        summary = ingest_seeds(settings, tmp_path / "state1")
        assert "failed=0" in summary, summary
        expected = seed_item_count()
        seen = wait_for_index(settings, expected, 1, 300, worker)
        assert seen["articles"] == expected
    except Exception:
        print(log.read_text()[-5000:])
        raise
    finally:
        stop_worker(worker)

    # Searchable: the seed's speakers and statements are in the claims index.
    assert any("Mattis" in (h.get("speaker") or "") for h in run_search(settings, "knowledge", "claims", 20))
    assert run_search(settings, "mercenaries", "articles")

    disputes = _disputes(settings)
    russian = [d for d in disputes if d["kind"] in ("non_confirmation", "polarity")
               and any("Mattis" in s["speaker"] for s in d["sides"])]
    assert russian, f"no Mattis dispute among {[(d['kind'], d['topic']) for d in disputes]}"
    d = russian[0]
    kremlin = [s for s in d["sides"] if "Russia" in s["speaker"] or "Kremlin" in s["speaker"]
               or "report" in s["speaker"].lower()]
    assert kremlin, d["sides"]
    # Reprints count once, with every carrier listed: metro-herald re-ran global-wire's story, so the side quoting
    # global-wire's article lists metro-herald too, even when the reprint's claims arrive after the dispute is out
    # (an "updated" change rewrites the document; it may land a moment after the first version).
    deadline = time.monotonic() + 60
    reporters = {k["speaker"] for k in kremlin}
    while True:
        d = next(x for x in _disputes(settings) if x["dispute_id"] == d["dispute_id"])
        wire = [s for s in d["sides"] if "global-wire" in s["outlets"] and s["speaker"] in reporters]
        if (wire and all("metro-herald" in s["outlets"] for s in wire)) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert wire and all("metro-herald" in s["outlets"] for s in wire), d["sides"]
    for side in d["sides"]:
        # Exact quotes: each side's span points at its quote in the indexed article text.
        assert _article_text(settings, side["article_id"])[side["start"]:side["end"]] == side["quote"]
        assert side["outlets"]
    # "over 100 casualties" and "in excess of 500" attackers count different things: no numeric dispute between them.
    for dd in disputes:
        if dd["kind"] == "numeric":
            quotes = " | ".join(s["quote"] for s in dd["sides"])
            assert not ("100 casualties" in quotes and "500" in quotes), quotes

    calls_after_first = len(hook.calls)
    mails_after_first = len(mails)
    assert calls_after_first >= 1 and mails_after_first == calls_after_first
    assert any("Mattis" in json.dumps(c) for c in hook.calls)

    # Restart the worker and re-ingest every seed from scratch (fresh connector state): nothing new.
    worker = start_worker(settings, log, alert_env)
    try:
        summary = ingest_seeds(settings, tmp_path / "state2")
        assert "new=" in summary
        wait_drained(settings, 180)  # every replayed item went through every stage
        wait_for_index(settings, expected, 1, 60, worker)
        # Every stage checked every message's offset without failing.
        assert "event=offset_hole_check_failed" not in log.read_text(errors="replace")
    except Exception:
        print(log.read_text()[-8000:])
        raise
    finally:
        stop_worker(worker)
    assert len(hook.calls) == calls_after_first
    assert len(mails) == mails_after_first
    assert len(_disputes(settings)) == len(disputes)
    all_names = dict(all_topic_names(settings))
    assert settings.topic("news.alerts.v1") in all_names
