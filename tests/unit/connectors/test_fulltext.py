"""Full text for teaser-only feeds: fetched from the article page on 127.0.0.1, and never at the cost of the item."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsrift.connectors.fulltext import extract_main_text
from newsrift.connectors.poller import PollConfig, poll_once
from newsrift.connectors.registry import Feed
from newsrift.connectors.sinks import JsonlSink
from newsrift.connectors.state import StateStore

PARAS = [
    "The port authority said on Monday that the harbour would stay closed for at least three more days while "
    "divers inspected the damaged quay walls after the storm.",
    "Shipping companies said dozens of vessels were waiting offshore, and two ferry lines cancelled their "
    "crossings until further notice, according to a statement published by the operators.",
    "Engineers told reporters that repairs could take several weeks if the foundations of the northern pier "
    "were found to be undermined by the unusually strong currents of the past week.",
]
PAGE = ("<html><head><title>Harbour closed</title></head><body><nav><a href='/'>Home</a> | <a href='/x'>World</a>"
        "</nav><article><h1>Harbour stays closed after storm</h1>" + "".join(f"<p>{p}</p>" for p in PARAS) +
        "</article><footer>Copyright Example News. Subscribe now!</footer></body></html>")


def feed_xml(link: str) -> str:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title><link>http://news.example/</link>'
            f"<item><title>Harbour stays closed</title><link>{link}</link><description>Harbour shut.</description>"
            "</item></channel></rss>")


@pytest.fixture()
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", "1")

    class H(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            routes = {"/feed": feed_xml(base + "/article/1"), "/feed-broken": feed_xml(base + "/missing"),
                      "/article/1": PAGE}
            body = routes.get(self.path)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8" if "article" in self.path else
                             "application/rss+xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _run(feed: Feed, tmp: Path) -> list[dict]:
    sink = JsonlSink(tmp / "out.jsonl")
    try:
        asyncio.run(poll_once([feed], StateStore(tmp / "st"), sink, PollConfig(per_host_interval=0)))
    finally:
        sink.close()
    return [json.loads(line) for line in (tmp / "out.jsonl").read_text().splitlines()]


def test_main_text_leaves_navigation_and_footer_out() -> None:
    text = extract_main_text(PAGE)
    assert text is not None and all(p in text for p in PARAS)
    assert "Subscribe" not in text and "Home" not in text


def test_full_text_outlet_gets_the_page_text(site: str, tmp_path: Path) -> None:
    (row,) = _run(Feed(site + "/feed", "news", full_text=True), tmp_path)
    assert PARAS[1] in row["content"]


def test_a_missing_page_keeps_the_feed_content(site: str, tmp_path: Path) -> None:
    (row,) = _run(Feed(site + "/feed-broken", "news", full_text=True), tmp_path)
    assert row["content"] == "Harbour shut."


def test_outlets_without_the_flag_are_not_fetched(site: str, tmp_path: Path) -> None:
    (row,) = _run(Feed(site + "/feed", "news"), tmp_path)
    assert row["content"] == "Harbour shut."


def test_an_extractor_crash_keeps_the_feed_content(site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import newsrift.connectors.fulltext as ft

    def boom(html: bytes | str, url: str | None = None) -> str | None:
        raise RuntimeError("extractor bug")

    monkeypatch.setattr(ft, "extract_main_text", boom)
    (row,) = _run(Feed(site + "/feed", "news", full_text=True), tmp_path)
    assert row["content"] == "Harbour shut."
