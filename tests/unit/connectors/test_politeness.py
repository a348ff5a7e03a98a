"""Politeness per host: a minimum interval between request starts (feeds and full-text pages alike), an in-flight
cap, and neither ever holding up another host.

Timing is asserted only as lower bounds with wide margins against real servers (load can only make gaps longer),
or exactly against a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from newsrift.connectors.politeness import LOCAL, HostLimiter, host_key
from newsrift.connectors.poller import PollConfig, poll_once
from newsrift.connectors.registry import Feed
from newsrift.connectors.state import StateStore
from tests.unit.connectors.conftest import ListSink, RouteServer, item, rss

PAGE = ("<html><body><article><h1>Harbour stays closed</h1>" + "".join(
    f"<p>Paragraph {i}: the port authority said on Monday that the harbour would stay closed for at least three "
    "more days while divers inspected the damaged quay walls after the storm.</p>" for i in range(4))
    + "</article></body></html>").encode()
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/rss+xml"}


class FakeTime:
    """A clock that only moves when someone sleeps on it; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        self.now += seconds


def test_starts_to_one_host_are_spaced_by_one_sleep_each() -> None:
    t = FakeTime()
    lim = HostLimiter(per_host=10, min_interval=1.0, clock=t.clock, sleep=t.sleep)
    starts: list[float] = []

    async def req(url: str) -> None:
        async with lim.slot(url):
            starts.append(t.now)
            await asyncio.sleep(0)

    async def go() -> None:
        await asyncio.gather(*(req(f"https://a.example/{i}") for i in range(4)))

    asyncio.run(go())
    assert starts == [1000.0, 1001.0, 1002.0, 1003.0]
    # One sleep for the whole remaining gap per waiting request: no polling loop.
    assert t.sleeps == [1.0, 1.0, 1.0]


def test_time_already_passed_counts_towards_the_interval() -> None:
    t = FakeTime()
    lim = HostLimiter(per_host=2, min_interval=1.0, clock=t.clock, sleep=t.sleep)

    async def go() -> None:
        async with lim.slot("https://a.example/1"):
            pass
        t.now += 0.75
        async with lim.slot("https://A.example:8443/2"):  # same host: case and port do not matter
            pass
        t.now += 5
        async with lim.slot("https://a.example/3"):  # long after: no wait at all
            pass

    asyncio.run(go())
    assert t.sleeps == [pytest.approx(0.25)]


def test_a_waiting_host_never_holds_up_another_host_or_local_files() -> None:
    # Real clock, an hour's interval: the second request to a.example waits an hour, and meanwhile b.example and a
    # local file go through at once. 10 s against an hour: no flaking on a slow machine.
    lim = HostLimiter(per_host=2, min_interval=3600)
    done: list[str] = []

    async def req(url: str) -> None:
        async with lim.slot(url):
            done.append(url)

    async def go() -> None:
        await req("https://a.example/1")
        waiting = asyncio.create_task(req("https://a.example/2"))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(asyncio.gather(req("https://b.example/1"), req("/tmp/feed.xml"),
                                              req("file:///tmp/feed.xml")), 10)
        assert not waiting.done()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting

    asyncio.run(go())
    assert done == ["https://a.example/1", "https://b.example/1", "/tmp/feed.xml", "file:///tmp/feed.xml"]


def test_in_flight_cap_per_host() -> None:
    lim = HostLimiter(per_host=2, min_interval=0)
    inside = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}

    async def req(host: str) -> None:
        async with lim.slot(f"http://{host}.example/"):
            inside[host] += 1
            most[host] = max(most[host], inside[host])
            for _ in range(3):
                await asyncio.sleep(0)
            inside[host] -= 1

    async def go() -> None:
        await asyncio.gather(*(req(h) for h in "ab" * 6))

    asyncio.run(go())
    assert most == {"a": 2, "b": 2}


def test_host_keys_and_settings() -> None:
    assert host_key("https://News.Example:8443/rss") == "news.example"
    assert host_key("/srv/feeds/a.xml") == host_key("file:///srv/a.xml") == LOCAL
    with pytest.raises(ValueError):
        HostLimiter(per_host=0)
    with pytest.raises(ValueError):
        HostLimiter(min_interval=-1)
    assert PollConfig().per_host_interval == 1.0


def _poll(feeds: list[Feed], tmp: Path, cfg: PollConfig, sink: ListSink | None = None) -> ListSink:
    sink = sink or ListSink()
    s = asyncio.run(poll_once(feeds, StateStore(tmp / "st"), sink, cfg))
    assert s.failed == 0, s.errors
    return sink


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_feed_requests_to_one_host_start_the_interval_apart(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    for i in range(3):
        srv.routes[f"/f{i}"] = (200, XML, rss(item(f"t{i}", f"https://ex.example/{i}")))
    # per_host=3: only the interval keeps them apart. The client spaces starts by >= 1 s; the server may see a
    # gap shrink only by a difference in delivery delays, so 0.5 s leaves room for a loaded machine.
    # The robots.txt request the host gets first counts like any other: four starts, each pair >= 1 s apart.
    _poll([Feed(f"{srv.base}/f{i}", "ex") for i in range(3)], tmp_path, PollConfig(per_host=3, per_host_interval=1.0))
    times = srv.times()
    assert len(times) == 4 and srv.paths(robots=True)[0] == "/robots.txt"
    assert min(_gaps(times)) >= 0.5, _gaps(times)


def test_a_host_waiting_out_its_interval_takes_no_global_slot(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    # concurrency=1 and an hour's Crawl-delay on host A: while A's feeds wait their hour after its robots.txt, host
    # B's feed is still fetched and published (the wait happens before the global slot is taken).
    a, b = web("127.0.0.1"), web("127.0.0.2")
    a.routes["/robots.txt"] = (200, {}, b"User-agent: *\nCrawl-delay: 3600\n")
    for srv in (a, b):
        srv.routes["/1"] = (200, XML, rss(item("one", f"{srv.base}/a/1")))
        srv.routes["/2"] = (200, XML, rss(item("two", f"{srv.base}/a/2")))
    sink = ListSink()
    feeds = [Feed(a.base + "/1", "a"), Feed(a.base + "/2", "a"), Feed(b.base + "/1", "b")]

    async def go() -> None:
        task = asyncio.create_task(poll_once(feeds, StateStore(tmp_path / "st"), sink,
                                             PollConfig(concurrency=1, per_host=2, per_host_interval=0,
                                                        max_crawl_delay=7200)))
        for _ in range(400):  # up to 20 s
            if sink.got:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert a.paths(robots=True) == ["/robots.txt"] and b.paths() == ["/1"]
    assert [r.url for r in sink.got] == [f"{b.base}/a/1"]


def _teaser_feed(srv: RouteServer, path: str, pages: list[str]) -> None:
    srv.routes[path] = (200, XML, rss(*(item(f"story {p}", f"{srv.base}{p}", description="Teaser.") for p in pages)))
    for p in pages:
        srv.routes[p] = (200, HTML, PAGE)


def test_full_text_pages_wait_their_turn_at_the_host(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    _teaser_feed(srv, "/feed", ["/p/1", "/p/2"])
    sink = _poll([Feed(srv.base + "/feed", "ex", full_text=True)], tmp_path,
                 PollConfig(per_host=4, per_host_interval=1.0))
    assert srv.paths() == ["/feed", "/p/1", "/p/2"]
    assert min(_gaps(srv.times())) >= 0.5, _gaps(srv.times())
    assert all("Paragraph 3" in (r.content or "") for r in sink.got)  # the pages were used


def test_full_text_pages_count_against_their_hosts_in_flight_cap(web: Callable[..., RouteServer],
                                                                 tmp_path: Path) -> None:
    # Two feeds on two hosts, their articles on a third: per_host=1 means one page request at a time there, even
    # though the two polls hold no slot of each other's host.
    pages, f1, f2 = web("127.0.0.1"), web("127.0.0.2"), web("127.0.0.3")
    pages.hold = 0.3
    for n, srv in enumerate((f1, f2)):
        links = [f"/{n}/p/{i}" for i in range(2)]
        srv.routes["/feed"] = (200, XML, rss(*(item(f"s{p}", f"{pages.base}{p}", description="T.") for p in links)))
        for p in links:
            pages.routes[p] = (200, HTML, PAGE)
    sink = _poll([Feed(f1.base + "/feed", "one", full_text=True), Feed(f2.base + "/feed", "two", full_text=True)],
                 tmp_path, PollConfig(per_host=1, per_host_interval=0))
    assert len(pages.paths()) == 4 and pages.max_in_flight == 1
    assert len(sink.got) == 4 and all("Paragraph 3" in (r.content or "") for r in sink.got)


def test_full_text_on_the_feeds_own_host_does_not_deadlock(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    # The tightest limits there are: one feed at a time in all, one request per host, feeds and pages on one host.
    srv = web()
    _teaser_feed(srv, "/a", ["/a/1", "/a/2"])
    _teaser_feed(srv, "/b", ["/b/1", "/b/2"])
    sink = ListSink()

    async def go() -> None:
        await asyncio.wait_for(poll_once([Feed(srv.base + "/a", "a", full_text=True),
                                          Feed(srv.base + "/b", "b", full_text=True)],
                                         StateStore(tmp_path / "st"), sink,
                                         PollConfig(concurrency=1, per_host=1, per_host_interval=0)), 60)

    asyncio.run(go())
    assert len(sink.got) == 4 and srv.max_in_flight == 1
