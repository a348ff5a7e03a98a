"""A 127.0.0.x HTTP server whose routes each test sets, recording what it was asked and when; and a list sink."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from newsrift.connectors.sinks import PublishError
from newsrift.model import RawArticle

Reply = tuple[int, dict[str, str], bytes]
# A route: a fixed reply, or a function of the request headers giving one (conditional GET, say).
Route = Reply | Callable[[dict[str, str]], Reply]


def send_reply(handler: BaseHTTPRequestHandler, code: int, headers: dict[str, str], body: bytes) -> None:
    """Write one whole HTTP reply from a test server's handler."""
    handler.send_response(code)
    for k, v in headers.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def rss(*items: str, title: str = "T") -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://ex.example/</link>{''.join(items)}</channel></rss>").encode()


def item(title: str, link: str | None = None, guid: str | None = None, description: str = "") -> str:
    return (f"<item><title>{title}</title>" + (f"<link>{link}</link>" if link else "")
            + (f'<guid isPermaLink="false">{guid}</guid>' if guid else "")
            + (f"<description>{description}</description>" if description else "") + "</item>")


class RouteServer:
    """``routes[path]`` is what ``GET path`` gets (404 otherwise). ``hits`` lists (path, time.monotonic()) as each
    request arrived, ``headers`` each one's headers (lower-case names); ``max_in_flight`` is the most requests it
    was answering at once; each reply is held ``hold`` seconds (counted as in flight) before it is sent."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[tuple[str, float]] = []
        self.headers: list[dict[str, str]] = []
        self.hold = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.hits.append((self.path, time.monotonic()))
                    outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                if outer.hold:
                    time.sleep(outer.hold)
                route = outer.routes.get(self.path)
                reply = route({k.lower(): v for k, v in self.headers.items()}) if callable(route) else route
                code, headers, body = reply or (404, {}, b"")
                # Out of flight *before* the client can see the reply: the client's next request can then never
                # find this one still counted.
                with outer._lock:
                    outer.in_flight -= 1
                send_reply(self, code, headers, body)

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), H)
        self.httpd.daemon_threads = True
        self.base = f"http://{host}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def paths(self, robots: bool = False) -> list[str]:
        """The paths asked for, in arrival order; ``/robots.txt`` (asked before a host's first request) only with
        ``robots=True``."""
        with self._lock:
            return [p for p, _ in self.hits if robots or p != "/robots.txt"]

    def times(self, *paths: str) -> list[float]:
        """Arrival times of the requests for these paths (all paths when none are given), in arrival order."""
        with self._lock:
            return [t for p, t in self.hits if not paths or p in paths]


def _bindable(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client uses proxies from the environment: tests that want one set it themselves."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture()
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., RouteServer]]:
    """``web(host="127.0.0.1")`` starts a RouteServer; each is shut down after the test."""
    monkeypatch.setenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", "1")
    started: list[RouteServer] = []

    def start(host: str = "127.0.0.1") -> RouteServer:
        if not _bindable(host):
            # Linux routes all of 127/8 to loopback; elsewhere 127.0.0.2 may need an alias first.
            pytest.skip(f"cannot listen on {host} here (no loopback alias)")
        s = RouteServer(host)
        started.append(s)
        return s

    yield start
    for s in started:
        s.httpd.shutdown()
        s.httpd.server_close()


class ListSink:
    """Acknowledges everything and keeps it."""

    def __init__(self) -> None:
        self.got: list[RawArticle] = []

    def publish(self, raw: RawArticle) -> None:
        self.got.append(raw)

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        self.got += raws
        return [None] * len(raws)

    def close(self) -> None:
        pass
