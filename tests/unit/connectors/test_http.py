"""Safe fetching against a real HTTP server on 127.0.0.1: status codes, validators, redirects and size caps."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from newsrift.connectors.http import (
    USER_AGENT,
    FetchError,
    FetchResult,
    fetch,
    is_public_address,
    make_client,
    retry_after_seconds,
)

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>a</title>' \
       b'<link>https://ex.example/a</link></item></channel></rss>'


LOL = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">' + b"".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
) + b']><rss version="2.0"><channel><title>&j;</title><item><title>&j;</title>' \
    b'<link>https://ex.example/1</link></item></channel></rss>'


class Server:
    """Paths: /ok /etag (304 on a matching If-None-Match; ``etag`` can change) /404 /429 /500 /loop /hop/N
    /big (11 MB) /bomb (30 MB of gzip-compressed spaces) /slow (drips bytes)."""

    def __init__(self) -> None:
        self.etag = '"v1"'
        self.agents: list[str] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def _plain(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
                self.send_response(code)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                outer.agents.append(self.headers.get("User-Agent", ""))
                p = self.path
                if p == "/ok":
                    self._plain(200, {"Content-Type": "application/rss+xml"}, FEED)
                elif p == "/etag":
                    if self.headers.get("If-None-Match") == outer.etag:
                        self._plain(304, {"ETag": outer.etag})
                    else:
                        self._plain(200, {"ETag": outer.etag, "Last-Modified": "Tue, 13 Feb 2018 09:40:00 GMT"}, FEED)
                elif p in ("/404", "/500"):
                    self._plain(int(p[1:]))
                elif p == "/429":
                    self._plain(429, {"Retry-After": "120"})
                elif p == "/loop":
                    self._plain(302, {"Location": "/loop"})
                elif p.startswith("/r/"):  # /r/301/r/302/ok: a 301 to /r/302/ok, which 302s to /ok
                    code, rest = p[3:6], p[6:]
                    self._plain(int(code), {"Location": rest})
                elif p.startswith("/hop/"):
                    n = int(p.rsplit("/", 1)[1])
                    self._plain(301, {"Location": f"/hop/{n - 1}"}) if n > 0 else self._plain(200, {}, FEED)
                elif p == "/lol":
                    self._plain(200, {"Content-Type": "application/rss+xml"}, LOL)
                elif p == "/garbage":
                    self._plain(200, {"Content-Type": "application/rss+xml"}, bytes(range(256)) * 64)
                elif p == "/endless":
                    # No Content-Length, no end: only the byte cap stops the reader.
                    self.send_response(200)
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"<item>" * 10000)
                    except OSError:
                        pass
                elif p == "/to-file":
                    self._plain(302, {"Location": "file:///etc/passwd"})
                elif p == "/big":
                    self._plain(200, {}, b" " * (11 * 1024 * 1024))
                elif p == "/bomb":
                    self._plain(200, {"Content-Encoding": "gzip"}, gzip.compress(b" " * (30 * 1024 * 1024)))
                elif p == "/slow":
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for _ in range(50):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        pass
                else:
                    self._plain(404)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.httpd.shutdown()


@pytest.fixture(autouse=True)
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", "1")


def get(url: str, **kw: object) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(read_timeout=5.0) as client:
            return await fetch(client, url, **kw)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_200_carries_body_validators_and_our_user_agent(server: Server) -> None:
    r = get(server.base + "/etag")
    assert r.status == 200 and r.body == FEED and r.etag == server.etag and r.last_modified
    assert server.agents[-1] == USER_AGENT


def test_changing_etags_give_304_then_200(server: Server) -> None:
    first = get(server.base + "/etag")
    assert get(server.base + "/etag", etag=first.etag).status == 304
    server.etag = '"v2"'
    again = get(server.base + "/etag", etag=first.etag)
    assert again.status == 200 and again.etag == '"v2"'


@pytest.mark.parametrize(("path", "match", "permanent"), [("/404", "HTTP 404", False), ("/500", "HTTP 500", False)])
def test_errors_say_what_happened(server: Server, path: str, match: str, permanent: bool) -> None:
    with pytest.raises(FetchError, match=match) as e:
        get(server.base + path)
    assert e.value.permanent is permanent and e.value.status == int(path[1:])


def test_429_honours_retry_after(server: Server) -> None:
    with pytest.raises(FetchError, match="429") as e:
        get(server.base + "/429")
    assert e.value.retry_after == 120


def test_redirects_are_followed_up_to_five(server: Server) -> None:
    assert get(server.base + "/hop/5").status == 200
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(server.base + "/hop/6")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        get(server.base + "/loop")


@pytest.mark.parametrize(("path", "moved"), [
    ("/r/301/ok", "/ok"), ("/r/308/ok", "/ok"), ("/r/302/ok", None), ("/r/307/ok", None), ("/r/303/ok", None),
    ("/hop/3", "/hop/0"), ("/r/301/r/308/ok", "/ok"),
    ("/r/301/r/302/ok", "/r/302/ok"),  # permanently moved to a place that is temporarily elsewhere
    ("/r/302/r/301/ok", None),  # only the feed's own address moving counts, not a temporary stand-in's
    ("/ok", None),
])
def test_permanent_redirects_at_the_start_of_the_chain_are_reported(server: Server, path: str,
                                                                   moved: str | None) -> None:
    r = get(server.base + path)
    assert r.status == 200 and r.url == server.base + ("/ok" if "hop" not in path else "/hop/0")
    assert r.moved_to == (server.base + moved if moved else None)


def test_a_redirect_to_a_local_file_is_refused(server: Server) -> None:
    with pytest.raises(FetchError, match="non-http"):
        get(server.base + "/to-file")


def test_oversized_and_gzip_bomb_bodies_are_refused(server: Server) -> None:
    with pytest.raises(FetchError, match="limit"):
        get(server.base + "/big")
    with pytest.raises(FetchError, match="decompressed"):
        get(server.base + "/bomb")


def test_a_dripping_server_hits_the_total_timeout(server: Server) -> None:
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="in total"):
        get(server.base + "/slow", total_timeout=1.0)
    assert time.monotonic() - t0 < 3


def test_private_addresses_are_refused_without_the_opt_in(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS")
    n = len(server.agents)
    with pytest.raises(FetchError, match="non-public") as e:
        get(server.base + "/ok")
    assert e.value.permanent and len(server.agents) == n  # refused before any request went out


@pytest.mark.parametrize(("addr", "public"), [
    ("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.169.254", False),
    ("100.64.0.1", False), ("::1", False), ("fe80::1", False), ("fd00:ec2::254", False), ("::ffff:127.0.0.1", False),
    ("0.0.0.0", False), ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("not-an-ip", False),
])
def test_address_classes(addr: str, public: bool) -> None:
    assert is_public_address(addr) is public


def test_local_files_are_read_with_the_cap(tmp_path: Path) -> None:
    f = tmp_path / "feed.xml"
    f.write_bytes(FEED)
    assert get(f.as_uri()).body == FEED
    assert get(str(f)).body == FEED
    with pytest.raises(FetchError, match="limit"):
        get(f.as_uri(), max_bytes=10)
    with pytest.raises(FetchError):
        get((tmp_path / "missing.xml").as_uri())
    with pytest.raises(FetchError, match="only http"):
        get("ftp://example.org/feed")


def test_retry_after_forms() -> None:
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds("garbage") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_the_connected_address_is_checked_too(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulates DNS rebinding: the name check passed (patched out), but the socket ends up on loopback.
    import newsrift.connectors.http as http_mod

    async def passes(url: str) -> None:
        return None

    monkeypatch.setattr(http_mod, "_check_host", passes)
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS")
    with pytest.raises(FetchError, match="connected to a non-public address"):
        get(server.base + "/ok")


def test_an_endless_body_stops_at_the_cap(server: Server) -> None:
    with pytest.raises(FetchError, match="limit"):
        get(server.base + "/endless", max_bytes=1024 * 1024)


def test_entity_bombs_and_garbage_served_over_http_fail_cleanly(server: Server, tmp_path: Path) -> None:
    import resource

    from newsrift.connectors.poller import PollConfig, poll_once
    from newsrift.connectors.registry import Feed
    from newsrift.connectors.sinks import JsonlSink
    from newsrift.connectors.state import StateStore

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sink = JsonlSink(tmp_path / "o.jsonl")
    try:
        s = asyncio.run(poll_once([Feed(server.base + "/lol", "lol"), Feed(server.base + "/garbage", "g"),
                                   Feed(server.base + "/ok", "ok")], StateStore(tmp_path / "st"), sink,
                                  PollConfig(per_host_interval=0)))
    finally:
        sink.close()
    # The bomb either fails to parse or parses unexpanded; garbage fails; the good feed is unaffected.
    assert s.failed >= 1 and s.ok >= 1 and s.ok + s.failed == 3
    rows = (tmp_path / "o.jsonl").read_text().splitlines()
    assert all(len(r) < 100_000 for r in rows)  # nothing expanded to megabytes
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: no blow-up
