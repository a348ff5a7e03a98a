"""The long-running poller follows its registry file: feeds added or removed while it runs, broken files survived."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import newsrift.cli.ingest as cli
from newsrift.connectors.poller import PollConfig, RegistryWatcher, run_forever
from newsrift.connectors.registry import Feed, load_registry
from newsrift.connectors.sinks import PublishError
from newsrift.connectors.state import FeedState, StateStore
from newsrift.model import RawArticle
from tests.unit.connectors.conftest import ListSink, item, rss

FAST = PollConfig(default_interval=0.1, min_interval=0.05, jitter=0.0)  # no ttl in the feeds: polled every 0.1 s


def _feed_file(tmp_path: Path, name: str) -> str:
    p = tmp_path / f"{name}.xml"
    p.write_bytes(rss(item(f"{name} one", f"https://{name}.example/1"), item(f"{name} two", f"https://{name}.example/2")))
    return p.as_uri()


def _write_registry(path: Path, *urls: str) -> None:
    body = "".join(f'[[outlets]]\nid = "o{i}"\nfeeds = ["{u}"]\n\n' for i, u in enumerate(urls))
    path.write_text(body)


def _events(caplog: pytest.LogCaptureFixture, event: str, url: str | None = None) -> list[str]:
    msgs = [r.getMessage() for r in caplog.records]
    return [m for m in msgs if m.startswith(f"event={event} ") and (url is None or f"url={url} " in m + " ")]


async def _until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def _following(reg: Path, store: StateStore, sink: ListSink, **kw: Any) -> AsyncIterator[asyncio.Task[None]]:
    """``run_forever`` on the registry's feeds, following the file, for the body of the ``async with``."""
    watch = RegistryWatcher(reg)  # before the first read, as the CLI does
    stop = asyncio.Event()
    task = asyncio.create_task(run_forever(load_registry(reg).feeds(), store, sink, FAST, tick=0.02, stop=stop,
                                           reload=watch, reload_every=0.05, **kw))
    try:
        yield task
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


def test_the_watcher_reads_the_file_only_when_it_changed(tmp_path: Path) -> None:
    reg = tmp_path / "r.toml"
    a, b = "https://a.example/rss", "https://b.example/rss"
    _write_registry(reg, a)
    reads: list[Path] = []

    def load(p: Path) -> list[Feed]:
        reads.append(p)
        return load_registry(p).feeds()

    watch = RegistryWatcher(reg, load)
    assert watch() is None and watch() is None and reads == []  # unchanged: a stat only
    _write_registry(reg, a, b)
    assert [f.url for f in watch() or []] == [a, b] and reads == [reg]
    assert watch() is None and len(reads) == 1
    # The same size, only a newer mtime (an editor saving the file unchanged) is a change too.
    st = reg.stat()
    os.utime(reg, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert [f.url for f in watch() or []] == [a, b] and len(reads) == 2


def test_the_watcher_keeps_the_last_list_when_the_file_is_broken(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsrift.connectors")
    reg = tmp_path / "r.toml"
    _write_registry(reg, "https://a.example/rss")
    watch = RegistryWatcher(reg)
    reg.write_text('[[outlets]]\nid = "half')  # half-written
    assert watch() is None
    failed = _events(caplog, "registry_reload_failed")
    assert len(failed) == 1 and f"path={reg} " in failed[0] and "not valid TOML" in failed[0]
    assert watch() is None and len(_events(caplog, "registry_reload_failed")) == 1  # logged once, not every check
    reg.write_text("")  # truncated by an editor mid-save: valid TOML, no feeds
    assert watch() is None
    assert "no feeds" in _events(caplog, "registry_reload_failed")[-1]
    reg.unlink()
    assert watch() is None and "no such registry file" in _events(caplog, "registry_reload_failed")[-1]
    _write_registry(reg, "https://b.example/rss")  # the next change is tried again
    assert [f.url for f in watch() or []] == ["https://b.example/rss"]
    assert len(_events(caplog, "registry_reload_failed")) == 3


def test_feeds_added_and_removed_with_the_cli_are_picked_up(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsrift.connectors")
    a, b, c = (_feed_file(tmp_path, n) for n in ("a", "b", "c"))
    reg, store, sink = tmp_path / "r.toml", StateStore(tmp_path / "st"), ListSink()
    _write_registry(reg, a)
    # c was polled by an earlier run: it failed 10 times and is not due for an hour. That state must be used.
    store.save(FeedState(c, failures=10, next_due=time.time() + 3600))
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    cli.register(app)

    def feeds(*args: str) -> None:
        r = CliRunner().invoke(app, ["feeds", *args, "--registry", str(reg)])
        assert r.exit_code == 0, r.output

    async def go() -> None:
        async with _following(reg, store, sink, report_every=0.1):
            await _until(lambda: len(_events(caplog, "feed_polled", a)) >= 2)
            assert _events(caplog, "feed_polled", b) == []
            feeds("add", "b-outlet", b)
            feeds("add", "c-outlet", c)
            await _until(lambda: len(_events(caplog, "feed_polled", b)) >= 2)
            assert any("added=2 removed=0" in m for m in _events(caplog, "registry_reloaded"))
            await _until(lambda: any(c in m for m in _events(caplog, "feeds_failing")))
            assert _events(caplog, "feed_polled", c) == []  # not due for an hour
            feeds("remove", a)
            feeds("remove", c)
            await _until(lambda: any("added=0 removed=2" in m for m in _events(caplog, "registry_reloaded")))
            await asyncio.sleep(0.15)  # a poll of a that was in flight may still finish
            polls_a, polls_b = len(_events(caplog, "feed_polled", a)), len(_events(caplog, "feed_polled", b))
            reports, failing = len(_events(caplog, "poll_cycle")), len(_events(caplog, "feeds_failing"))
            await asyncio.sleep(0.5)
            assert len(_events(caplog, "feed_polled", a)) == polls_a  # no longer polled
            assert len(_events(caplog, "feed_polled", b)) >= polls_b + 2  # still polled
            assert len(_events(caplog, "poll_cycle")) >= reports + 2  # reports went on ...
            assert len(_events(caplog, "feeds_failing")) == failing  # ... without c's failures in them

    asyncio.run(go())
    assert sorted(r.url for r in sink.got) == sorted(f"https://{n}.example/{i}" for n in "ab" for i in (1, 2))


def test_a_broken_registry_does_not_stop_the_poller(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsrift.connectors")
    a, b = _feed_file(tmp_path, "a"), _feed_file(tmp_path, "b")
    reg, sink = tmp_path / "r.toml", ListSink()
    _write_registry(reg, a)

    async def go() -> None:
        async with _following(reg, StateStore(tmp_path / "st"), sink) as task:
            await _until(lambda: len(_events(caplog, "feed_polled", a)) >= 1)
            reg.write_text('[[outlets]]\nid = "o0"\nfeeds = ["' + a)  # half-written
            await _until(lambda: len(_events(caplog, "registry_reload_failed")) == 1)
            polls = len(_events(caplog, "feed_polled", a))
            await _until(lambda: len(_events(caplog, "feed_polled", a)) >= polls + 3)  # the last good list
            assert not task.done() and len(_events(caplog, "registry_reload_failed")) == 1
            _write_registry(reg, a, b)
            await _until(lambda: len(_events(caplog, "feed_polled", b)) >= 1)
            assert _events(caplog, "registry_reloaded")[-1].startswith("event=registry_reloaded added=1 removed=0 ")

    asyncio.run(go())
    failed = _events(caplog, "registry_reload_failed")[0]
    assert f"path={reg} error=" in failed and "not valid TOML" in failed
    assert {r.feed_url for r in sink.got} == {a, b}


class BlockingSink(ListSink):
    """Holds the first batch until ``release`` is set (a slow broker)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        self.entered.set()
        assert self.release.wait(10)
        return super().publish_many(raws)


def test_a_poll_in_flight_finishes_when_its_feed_is_removed(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsrift.connectors")
    a, b = _feed_file(tmp_path, "a"), _feed_file(tmp_path, "b")
    reg, store, sink = tmp_path / "r.toml", StateStore(tmp_path / "st"), BlockingSink()
    _write_registry(reg, a)

    async def go() -> None:
        async with _following(reg, store, sink):
            try:
                await _until(sink.entered.is_set)  # a's poll is publishing
                _write_registry(reg, b)
                await _until(lambda: any("added=1 removed=1" in m for m in _events(caplog, "registry_reloaded")))
                sink.release.set()
                await _until(lambda: len(store.load(a).seen) == 2)  # acknowledged and saved, not cancelled
                await _until(lambda: len(_events(caplog, "feed_polled", b)) >= 3)
                assert len(_events(caplog, "feed_polled", a)) == 1
            finally:
                sink.release.set()

    asyncio.run(go())
    assert {r.feed_url for r in sink.got} == {a, b} and len(sink.got) == 4


def test_a_feed_whose_settings_changed_is_polled_with_the_new_ones(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="newsrift.connectors")
    a = _feed_file(tmp_path, "a")
    reg, sink = tmp_path / "r.toml", ListSink()
    _write_registry(reg, a)

    async def go() -> None:
        async with _following(reg, StateStore(tmp_path / "st"), sink):
            await _until(lambda: len(sink.got) == 2)
            (tmp_path / "a.xml").write_bytes(rss(item("a three", "https://a.example/3")))
            reg.write_text(f'[[outlets]]\nid = "renamed"\nlanguage = "de"\nfeeds = ["{a}"]\n')
            await _until(lambda: len(sink.got) == 3)

    asyncio.run(go())
    assert _events(caplog, "registry_reloaded")[-1].startswith("event=registry_reloaded added=0 removed=0 changed=1 ")
    assert (sink.got[-1].outlet_id, sink.got[-1].language) == ("renamed", "de")


def test_ingest_follows_the_registry_only_when_it_polls_the_registry(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    async def fake_run_forever(feeds: Sequence[Feed], *args: object, **kw: Any) -> None:
        calls.append({"feeds": [f.url for f in feeds], **kw})

    monkeypatch.setattr(cli, "run_forever", fake_run_forever)
    a = _feed_file(tmp_path, "a")
    reg = tmp_path / "r.toml"
    _write_registry(reg, a)
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    cli.register(app)
    common = ["--state-dir", str(tmp_path / "st"), "--to-jsonl", str(tmp_path / "o.jsonl")]
    r = CliRunner().invoke(app, ["ingest", "--registry", str(reg), *common])
    assert r.exit_code == 0, r.output
    watch = calls[-1]["reload"]
    assert isinstance(watch, RegistryWatcher) and watch.path == reg and calls[-1]["feeds"] == [a]
    r = CliRunner().invoke(app, ["ingest", "--feed", a, "--registry", str(reg), *common])
    assert r.exit_code == 0, r.output
    assert calls[-1]["reload"] is None and len(calls) == 2  # --feed replaces the registry: nothing to follow
