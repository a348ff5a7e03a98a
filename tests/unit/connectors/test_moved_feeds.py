"""A feed that moved: a permanent redirect (301/308) is stored and fetched directly from then on, a temporary one
(302/303/307) is only followed; the state stays under the registry URL, so ids, seen items and feed_url carry over."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsrift.cli.ingest import register
from newsrift.connectors.poller import PollConfig, Summary, poll_once, run_forever
from newsrift.connectors.registry import Feed
from newsrift.connectors.state import FeedState, StateStore
from tests.unit.connectors.conftest import ListSink, Reply, RouteServer, item, rss

CFG = PollConfig(per_host_interval=0)
XML = {"Content-Type": "application/rss+xml"}
ONE = item("Linked", "https://ex.example/a/1")
TWO = item("Guid only", guid="tag:ex.example,2024:2")  # id from outlet + guid
THREE = item("Later", "https://ex.example/a/3")


def _poll(feed: Feed, tmp: Path, sink: ListSink | None = None) -> Summary:
    return asyncio.run(poll_once([feed], StateStore(tmp / "st"), sink or ListSink(), CFG))


def test_a_permanent_move_is_stored_and_nothing_is_republished(web: Callable[..., RouteServer], tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    srv = web()
    feed = Feed(srv.base + "/old", "ex")
    srv.routes["/old"] = (200, XML, rss(ONE, TWO))
    first = ListSink()
    assert _poll(feed, tmp_path, first).new == 2

    srv.routes["/old"] = (301, {"Location": "/new"}, b"")
    srv.routes["/new"] = (200, XML, rss(ONE, TWO, THREE))
    second = ListSink()
    with caplog.at_level(logging.WARNING, logger="newsrift.connectors"):
        s = _poll(feed, tmp_path, second)
    assert (s.ok, s.new, s.skipped) == (1, 1, 2)  # the two known items keep their ids: nothing re-published
    assert s.moved == [f"{feed.url}: moved permanently from {feed.url} to {srv.base}/new"]
    assert s.line().endswith(" moved=1")
    assert any("event=feed_moved" in r.getMessage() and f"to={srv.base}/new" in r.getMessage()
               for r in caplog.records)
    st = StateStore(tmp_path / "st").load(feed.url)  # still the registry URL's state file
    assert st.moved_to == srv.base + "/new" and st.fetch_url == srv.base + "/new" and len(st.seen) == 3

    before = len(srv.paths())
    third = ListSink()
    srv.routes["/new"] = (200, XML, rss(ONE, TWO, THREE, item("Fourth", "https://ex.example/a/4")))
    s = _poll(feed, tmp_path, third)
    assert srv.paths()[before:] == ["/new"]  # straight to the new URL
    assert (s.new, s.skipped, s.moved) == (1, 3, [])
    # Articles keep the feed's registry URL, and the guid-only item its id.
    assert {r.feed_url for r in first.got + second.got + third.got} == {feed.url}
    ids = {r.title: r.article_id for r in first.got + second.got + third.got}
    assert len(ids) == 4 and len(set(ids.values())) == 4


@pytest.mark.parametrize("code", [302, 303, 307])
def test_a_temporary_redirect_is_followed_but_not_stored(web: Callable[..., RouteServer], tmp_path: Path,
                                                         code: int) -> None:
    srv = web()
    feed = Feed(srv.base + "/old", "ex")
    srv.routes["/old"] = (code, {"Location": "/elsewhere"}, b"")
    srv.routes["/elsewhere"] = (200, XML, rss(ONE))
    assert _poll(feed, tmp_path).new == 1
    s = _poll(feed, tmp_path)
    assert (s.ok, s.skipped, s.moved) == (1, 1, [])
    assert srv.paths() == ["/old", "/elsewhere"] * 2  # asked at the registry URL every time
    assert StateStore(tmp_path / "st").load(feed.url).moved_to is None


def test_a_moved_feed_moves_on_or_back_but_not_for_a_temporary_redirect(web: Callable[..., RouteServer],
                                                                         tmp_path: Path) -> None:
    srv = web()
    feed = Feed(srv.base + "/old", "ex")
    store = StateStore(tmp_path / "st")
    srv.routes["/old"] = (308, {"Location": "/new"}, b"")
    srv.routes["/new"] = (200, XML, rss(ONE))
    _poll(feed, tmp_path)
    assert store.load(feed.url).moved_to == srv.base + "/new"

    srv.routes["/new"] = (307, {"Location": "/mirror"}, b"")  # the new home is briefly elsewhere: stays put
    srv.routes["/mirror"] = (200, XML, rss(ONE))
    assert _poll(feed, tmp_path).moved == []
    assert store.load(feed.url).moved_to == srv.base + "/new"

    srv.routes["/new"] = (301, {"Location": "/newer"}, b"")  # moved again
    srv.routes["/newer"] = (200, XML, rss(ONE))
    assert len(_poll(feed, tmp_path).moved) == 1
    assert store.load(feed.url).moved_to == srv.base + "/newer"

    srv.routes["/newer"] = (301, {"Location": "/old"}, b"")  # and back home
    srv.routes["/old"] = (200, XML, rss(ONE))
    s = _poll(feed, tmp_path)
    assert (s.skipped, len(s.moved)) == (1, 1)
    assert store.load(feed.url).moved_to is None


def test_a_move_is_kept_after_a_304(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    feed = Feed(srv.base + "/old", "ex")

    def conditional(headers: dict[str, str]) -> Reply:
        if headers.get("if-none-match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {**XML, "ETag": '"v1"'}, rss(ONE)

    srv.routes["/old"] = conditional
    _poll(feed, tmp_path)
    srv.routes["/old"] = (301, {"Location": "/new"}, b"")
    srv.routes["/new"] = conditional
    s = _poll(feed, tmp_path)
    assert (s.not_modified, len(s.moved)) == (1, 1)
    assert StateStore(tmp_path / "st").load(feed.url).moved_to == srv.base + "/new"


def test_a_move_to_something_that_is_no_feed_is_not_stored(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    # A lapsed domain or a redesign often 301s every old URL to a home page: the feed must not stay pointed there.
    srv = web()
    feed = Feed(srv.base + "/old", "ex")
    srv.routes["/old"] = (301, {"Location": "/home"}, b"")
    srv.routes["/home"] = (200, {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 64)
    s = _poll(feed, tmp_path)
    assert (s.failed, s.moved) == (1, [])
    assert StateStore(tmp_path / "st").load(feed.url).moved_to is None


def test_the_long_running_poller_starts_at_the_stored_address(web: Callable[..., RouteServer],
                                                              tmp_path: Path) -> None:
    srv = web()
    feed = Feed(srv.base + "/old", "ex")
    srv.routes["/new"] = (200, XML, rss(ONE))
    store = StateStore(tmp_path / "st")
    store.save(FeedState(feed.url, moved_to=srv.base + "/new"))
    sink = ListSink()

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_forever([feed], store, sink, CFG, tick=0.05, stop=stop))
        for _ in range(200):
            if sink.got:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(go())
    assert srv.paths() == ["/new"] and [r.feed_url for r in sink.got] == [feed.url]


def test_only_http_moves_are_read_back_from_state(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    url = "https://ex.example/rss"
    for bad in ("file:///etc/passwd", "/etc/passwd", 42):
        store.path(url).write_text(json.dumps({"url": url, "moved_to": bad}))
        assert store.load(url).fetch_url == url
    store.save(FeedState(url, moved_to="https://feeds.ex.example/rss"))
    assert store.load(url).fetch_url == "https://feeds.ex.example/rss"


def test_ingest_and_feeds_list_report_the_move(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    srv.routes["/old"] = (301, {"Location": "/new"}, b"")
    srv.routes["/new"] = (200, XML, rss(ONE))
    reg = tmp_path / "r.toml"
    reg.write_text(f'[[outlets]]\nid = "ex"\nfeeds = ["{srv.base}/old"]\n')
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    register(app)
    run = CliRunner()
    args = ["--registry", str(reg), "--state-dir", str(tmp_path / "st")]
    r = run.invoke(app, ["ingest", "--once", "--per-host-interval", "0", "--to-jsonl", str(tmp_path / "o.jsonl"),
                         *args])
    assert r.exit_code == 0, r.output
    assert f"moved permanently from {srv.base}/old to {srv.base}/new" in r.output
    assert r.output.strip().splitlines()[-1] == "feeds ok=1 not_modified=0 failed=0 items new=1 updated=0 " \
                                                "skipped=0 moved=1"
    listed = run.invoke(app, ["feeds", "list", "--to-jsonl", str(tmp_path / "o.jsonl"), *args]).output
    assert f"{srv.base}/old\tok\t" in listed and f"moved_to={srv.base}/new" in listed
