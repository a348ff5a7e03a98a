"""Connector behaviour on real local inputs: files, a 127.0.0.1 HTTP server, and the JSONL sink."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsrift.connectors.http import FetchError, fetch, make_client
from newsrift.connectors.items import canonical_url
from newsrift.connectors.poller import PollConfig, poll_once
from newsrift.connectors.registry import Feed, load_registry
from newsrift.connectors.sinks import JsonlSink
from newsrift.connectors.state import StateStore

ROOT = Path(__file__).resolve().parents[3]
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://ex.example/</link>
<item><title>{title}</title><link>/a/1?utm_source=x#top</link><description>{body}</description>
<pubDate>Tue, 13 Feb 2018 09:40:00 +0300</pubDate></item></channel></rss>"""


@pytest.mark.parametrize(("raw", "want"), [
    ("https://WWW.Ex.example/a/b?utm_source=rss&id=3#frag", "https://www.ex.example/a/b?id=3"),
    ("https://m.ex.example/news/x?fbclid=1", "https://ex.example/news/x"),
    ("https://ex.example/amp/news/x", "https://ex.example/news/x"),
    ("https://amp.ex.example/news/x?amp", "https://ex.example/news/x"),
    ("http://ex.example:80/x?b=2&a=1", "http://ex.example/x?a=1&b=2"),
])
def test_canonical_url(raw: str, want: str) -> None:
    assert canonical_url(raw) == want


def test_relative_links_resolve_against_the_feed() -> None:
    assert canonical_url("/a/1?utm_source=x#top", "https://ex.example/") == "https://ex.example/a/1"


def test_seed_registry_lists_every_seed_feed() -> None:
    reg = load_registry(ROOT / "seeds" / "outlets.toml")
    files = sorted(p.name for p in (ROOT / "seeds" / "feeds").glob("*.xml"))
    assert sorted(Path(f.url).name for f in reg.feeds()) == files


def _poll(feeds: list[Feed], state: Path, out: Path) -> str:
    sink = JsonlSink(out)
    try:
        return asyncio.run(poll_once(feeds, StateStore(state), sink, PollConfig())).line()
    finally:
        sink.close()


def test_new_then_skipped_then_updated(tmp_path: Path) -> None:
    feed_file = tmp_path / "f.xml"
    feed_file.write_text(RSS.format(title="First", body="Body one"))
    feed = Feed(feed_file.as_uri(), "ex")
    out = tmp_path / "out.jsonl"
    assert _poll([feed], tmp_path / "st", out).endswith("new=1 updated=0 skipped=0")
    assert _poll([feed], tmp_path / "st", out).endswith("new=0 updated=0 skipped=1")
    feed_file.write_text(RSS.format(title="First", body="Body one, corrected"))
    assert _poll([feed], tmp_path / "st", out).endswith("new=0 updated=1 skipped=0")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["revision"] for r in rows] == [0, 1]
    assert rows[0]["article_id"] == rows[1]["article_id"]
    assert rows[0]["url"] == "https://ex.example/a/1"
    assert rows[0]["published"] == "2018-02-13T06:40:00Z" and not rows[0]["published_is_fallback"]


def test_a_broken_feed_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    good = tmp_path / "good.xml"
    good.write_text(RSS.format(title="Ok", body="Fine"))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"\x00\x01 this is not xml at all \xff")
    line = _poll([Feed(bad.as_uri(), "b"), Feed(good.as_uri(), "g"), Feed((tmp_path / "missing.xml").as_uri(), "m")],
                 tmp_path / "st", tmp_path / "out.jsonl")
    assert line == "feeds ok=1 not_modified=0 failed=2 items new=1 updated=0 skipped=0"


class _Server:
    def __init__(self) -> None:
        self.etag = '"v1"'
        self.hits: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits.append(self.path)
                if self.path == "/feed":
                    if self.headers.get("If-None-Match") == outer.etag:
                        self.send_response(304)
                        self.end_headers()
                        return
                    body = RSS.format(title="Served", body="x").encode()
                    self.send_response(200)
                    self.send_header("ETag", outer.etag)
                elif self.path == "/bomb":
                    body = gzip.compress(b"<rss>" + b" " * (30 * 1024 * 1024) + b"</rss>")
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                elif self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.end_headers()
                    return
                elif self.path == "/busy":
                    self.send_response(429)
                    self.send_header("Retry-After", "120")
                    self.end_headers()
                    return
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture()
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    monkeypatch.setenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", "1")
    s = _Server()
    yield s
    s.httpd.shutdown()


def _fetch(url: str, **kw: object) -> object:
    async def go() -> object:
        async with make_client() as client:
            return await fetch(client, url, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_conditional_get_costs_a_304(server: _Server, tmp_path: Path) -> None:
    feed = Feed(server.base + "/feed", "ex")
    out = tmp_path / "o.jsonl"
    assert "ok=1" in _poll([feed], tmp_path / "st", out)
    assert "not_modified=1" in _poll([feed], tmp_path / "st", out)
    server.etag = '"v2"'
    assert "ok=1" in _poll([feed], tmp_path / "st", out)


def test_gzip_bomb_redirect_loop_and_429_are_refused_clearly(server: _Server) -> None:
    with pytest.raises(FetchError, match="limit"):
        _fetch(server.base + "/bomb")
    with pytest.raises(FetchError, match="redirects"):
        _fetch(server.base + "/loop")
    with pytest.raises(FetchError, match="429") as e:
        _fetch(server.base + "/busy")
    assert e.value.retry_after == 120


def test_private_addresses_are_refused_by_default(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(FetchError, match="non-public"):
        _fetch(server.base + "/feed")
    assert server.hits == []
