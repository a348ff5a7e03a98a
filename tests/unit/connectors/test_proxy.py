"""Proxies from the environment: a tiny forward proxy (stdlib) on 127.0.0.1 that records what it was asked for and
either forwards it or answers itself; the address checks apply to the target, never to the proxy hop."""

from __future__ import annotations

import asyncio
import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsrift.connectors.http import FetchError, FetchResult, fetch, make_client, proxy_for
from newsrift.connectors.poller import PollConfig, poll_once
from newsrift.connectors.registry import Feed
from newsrift.connectors.state import StateStore
from tests.unit.connectors.conftest import ListSink, Reply, RouteServer, item, rss, send_reply
from tests.unit.connectors.test_politeness import XML

_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
        "upgrade", "content-length"}
PUBLIC = "93.184.215.14"  # a global address: only ever "reached" through the proxy below, which answers itself


class ForwardProxy:
    """``seen`` lists the absolute URLs asked for. Without ``answer`` it forwards each GET to its target with
    http.client; with one, ``answer(url)`` is the reply and nothing leaves the machine."""

    def __init__(self, answer: Callable[[str], Reply] | None = None) -> None:
        self.seen: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(self.path)
                if answer is not None:
                    code, headers, body = answer(self.path)
                else:
                    u = urlsplit(self.path)
                    conn = http.client.HTTPConnection(u.hostname or "", u.port or 80, timeout=10)
                    conn.request("GET", u.path + (f"?{u.query}" if u.query else ""),
                                 headers={k: v for k, v in self.headers.items() if k.lower() not in _HOP})
                    r = conn.getresponse()
                    code, body = r.status, r.read()
                    headers = {k: v for k, v in r.getheaders() if k.lower() not in _HOP}
                    conn.close()
                send_reply(self, code, headers, body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture()
def proxy() -> Iterator[Callable[..., ForwardProxy]]:
    started: list[ForwardProxy] = []

    def start(answer: Callable[[str], Reply] | None = None) -> ForwardProxy:
        p = ForwardProxy(answer)
        started.append(p)
        return p

    yield start
    for p in started:
        p.httpd.shutdown()
        p.httpd.server_close()


def test_requests_go_through_the_configured_proxy(web: Callable[..., RouteServer], proxy: Callable[..., ForwardProxy],
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    srv, p = web(), proxy()
    srv.routes["/feed"] = (200, XML, rss(item("one", "https://ex.example/1")))
    monkeypatch.setenv("HTTP_PROXY", p.url)
    sink, agent = ListSink(), "examplebot/1.0 (+mailto:ops@example.org)"
    s = asyncio.run(poll_once([Feed(srv.base + "/feed", "ex")], StateStore(tmp_path / "st"),
                              sink, PollConfig(per_host_interval=0, user_agent=agent)))
    assert s.ok == 1 and [r.url for r in sink.got] == ["https://ex.example/1"]
    assert p.seen == [f"{srv.base}/robots.txt", f"{srv.base}/feed"]  # robots.txt and the feed, both through it
    assert srv.paths(robots=True) == ["/robots.txt", "/feed"]
    assert {h["user-agent"] for h in srv.headers} == {agent}


def test_no_proxy_hosts_go_direct(web: Callable[..., RouteServer], proxy: Callable[..., ForwardProxy],
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    srv, p = web(), proxy()
    srv.routes["/feed"] = (200, XML, rss(item("one", "https://ex.example/1")))
    monkeypatch.setenv("HTTP_PROXY", p.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    s = asyncio.run(poll_once([Feed(srv.base + "/feed", "ex")], StateStore(tmp_path / "st"),
                              ListSink(), PollConfig(per_host_interval=0)))
    assert s.ok == 1 and p.seen == [] and srv.paths() == ["/feed"]


def _fetch(url: str) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(read_timeout=5.0) as client:
            return await fetch(client, url, total_timeout=10)

    return asyncio.run(go())


def test_through_a_proxy_a_private_target_is_still_refused(proxy: Callable[..., ForwardProxy],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", raising=False)
    p = proxy(lambda url: (200, XML, rss()))
    monkeypatch.setenv("HTTP_PROXY", p.url)
    for target in ("http://127.0.0.1:8080/feed", "http://169.254.169.254/latest/meta-data/", "http://localhost/"):
        with pytest.raises(FetchError, match="non-public") as e:
            _fetch(target)
        assert e.value.permanent
    assert p.seen == []  # refused before anything was sent, the proxy never asked


def test_a_proxy_on_a_private_address_serves_a_public_target(proxy: Callable[..., ForwardProxy],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the proxy exemption the connected peer (the proxy, 127.0.0.1) would be refused.
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", raising=False)
    p = proxy(lambda url: (200, XML, rss(item("one", "https://ex.example/1"))) if url.endswith("/feed")
              else (302, {"Location": "http://10.0.0.1/admin"}, b""))
    monkeypatch.setenv("http_proxy", p.url)
    got = _fetch(f"http://{PUBLIC}/feed")
    assert got.status == 200 and b"ex.example/1" in got.body
    # A redirect the proxy relays is a hop like any other: the private target is refused, never asked for.
    with pytest.raises(FetchError, match="non-public"):
        _fetch(f"http://{PUBLIC}/go")
    assert p.seen == [f"http://{PUBLIC}/feed", f"http://{PUBLIC}/go"]


def test_which_proxy_the_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert proxy_for("http://news.example/rss") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("ALL_PROXY", "http://other.corp:8080")
    monkeypatch.setenv("NO_PROXY", ".intranet.example,wire.example")
    assert proxy_for("https://news.example/rss") == "http://proxy.corp:3128"
    assert proxy_for("http://news.example/rss") == "http://other.corp:8080"
    assert proxy_for("https://feeds.wire.example/rss") is None and proxy_for("https://a.intranet.example/") is None
    monkeypatch.setenv("https_proxy", "http://lower.corp:3128")  # the lower-case form wins, as everywhere
    assert proxy_for("https://news.example/rss") == "http://lower.corp:3128"
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.delenv("no_proxy", raising=False)
    assert proxy_for("https://news.example/rss") is None
