"""Dead feeds: after ``dead_after`` without a success a feed is dead, said once (log line and notice), tried daily,
and revived by a success; notices reach the alert sinks (a webhook on 127.0.0.1, an e-mail through a fake SMTP)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from newsrift.cli.ingest import register
from newsrift.connectors.notices import FeedNotice, sink_notifier
from newsrift.connectors.poller import PollConfig, Summary, poll_once, run_forever
from newsrift.connectors.registry import Feed
from newsrift.connectors.state import StateStore
from newsrift.stages.alerts.sinks import EmailSink, WebhookSink
from tests.unit.connectors.conftest import ListSink, RouteServer, item, rss
from tests.unit.connectors.test_politeness import XML

DAY = 86400.0


def test_a_dead_feed_is_reported_exactly_once_tried_daily_and_revived(
        web: Callable[..., RouteServer], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srv = web()
    srv.routes["/feed"] = (500, {}, b"")
    feed = Feed(srv.base + "/feed", "ex")
    store = StateStore(tmp_path / "st")
    cfg = PollConfig(per_host_interval=0, jitter=0.0, dead_after=7 * DAY)
    got: list[FeedNotice] = []

    def run() -> Summary:
        return asyncio.run(poll_once([feed], store, ListSink(), cfg, got.append))

    with caplog.at_level(logging.INFO, logger="newsrift.connectors"):
        first = run()
        assert first.failed == 1 and got == [] and store.load(feed.url).dead_since is None
        st = store.load(feed.url)
        assert st.failing_since is not None
        st.failing_since -= 8 * DAY  # as if the first failure had been eight days ago
        store.save(st)
        t0 = time.time()
        runs = [run() for _ in range(3)]

    dead = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=feed_dead ")]
    assert len(dead) == 1 and f"url={feed.url}" in dead[0] and "outlet=ex" in dead[0]
    assert [n.kind for n in got] == ["feed_dead"] and got[0].url == feed.url and got[0].failures == 2
    assert [r.line().endswith(" dead=1") for r in runs] == [True, False, False]
    st = store.load(feed.url)
    assert st.dead_since is not None and st.failures == 4
    assert st.next_due - t0 >= DAY - 5  # tried once a day, not at the 6 h backoff cap
    # Each run: robots.txt (404, an answer) and the feed (500, a failure).
    assert (st.requests, st.request_failures) == (8, 4)

    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    register(app)
    reg = tmp_path / "r.toml"
    reg.write_text(f'[[outlets]]\nid = "ex"\nfeeds = ["{feed.url}"]\n')
    # feeds list reads one destination's folder (<state-dir>/kafka/<topic>/): the same state, put there.
    StateStore(tmp_path / "cli" / "kafka" / "t").save(st)
    listed = CliRunner().invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(tmp_path / "cli"),
                                      "--topic", "t"]).output
    assert f"ex\t{feed.url}\tdead\tfailures=4" in listed
    assert "\trequests=8\trequest_failures=4\tdead_since=" in listed

    srv.routes["/feed"] = (200, XML, rss(item("back", "https://ex.example/back")))
    with caplog.at_level(logging.INFO, logger="newsrift.connectors"):
        assert run().ok == 1
    assert [n.kind for n in got] == ["feed_dead", "feed_revived"]
    st = store.load(feed.url)
    assert (st.dead_since, st.failing_since, st.failures) == (None, None, 0)
    assert sum("event=feed_revived " in r.getMessage() for r in caplog.records) == 1


def test_a_feed_failing_for_less_than_the_limit_is_not_dead(web: Callable[..., RouteServer], tmp_path: Path) -> None:
    srv = web()
    srv.routes["/feed"] = (503, {}, b"")
    got: list[FeedNotice] = []
    store = StateStore(tmp_path / "st")
    for _ in range(3):
        asyncio.run(poll_once([Feed(srv.base + "/feed", "ex")], store, ListSink(),
                              PollConfig(per_host_interval=0, dead_after=3600), got.append))
    assert got == [] and store.load(srv.base + "/feed").dead_since is None


class _Hooks:
    """A webhook receiver on 127.0.0.1 recording each POST's headers and JSON body."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], Any]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


@pytest.fixture()
def hooks() -> Iterator[_Hooks]:
    h = _Hooks()
    yield h
    h.httpd.shutdown()
    h.httpd.server_close()


NOTICE = FeedNotice("feed_dead", "https://ex.example/rss", "ex", "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z",
                    12, 30, 12, "HTTP 500")


def test_notices_go_through_the_alert_webhook(hooks: _Hooks) -> None:
    plain, slack = WebhookSink(hooks.url), WebhookSink(hooks.url, name="slack", slack=True)
    sink_notifier([plain, slack])(NOTICE)
    (h1, b1), (_, b2) = hooks.posts
    assert b1["type"] == "feed_dead" and b1["url"] == NOTICE.url and b1["summary"] == NOTICE.subject
    assert h1["idempotency-key"] == NOTICE.notice_id == b1["notice_id"]
    assert b2 == {"text": NOTICE.text()} and "It is still tried once a day" in b2["text"]
    plain.close()
    slack.close()


def test_a_refusing_sink_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookSink("http://127.0.0.1:9/hook", timeout=1.0)
    with caplog.at_level(logging.ERROR, logger="newsrift.connectors"):
        sink_notifier([sink], retries=1, sleep=lambda _: None)(NOTICE)
    assert any(r.getMessage().startswith("event=feed_notice_failed sink=webhook") for r in caplog.records)
    sink.close()


def test_notices_go_through_the_alert_email(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            pass

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *a: object) -> None:
            pass

        def send_message(self, msg: Any) -> None:
            sent.append(msg)

    monkeypatch.setattr("newsrift.stages.alerts.sinks.smtplib.SMTP", FakeSMTP)
    sink_notifier([EmailSink("mail.invalid", 25, sender="n@ex.example", recipients=["ops@ex.example"])])(NOTICE)
    (msg,) = sent
    assert msg["Subject"] == f"[newsrift] {NOTICE.subject}" and msg["To"] == "ops@ex.example"
    assert "12 failed polls in a row" in msg.get_content()


def test_the_running_poller_does_not_list_a_dead_feed_every_minute(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    store = StateStore(tmp_path / "st")
    far = time.time() + DAY
    for url, dead_since in (("https://dead.example/rss", time.time() - DAY), ("https://ailing.example/rss", None)):
        st = store.load(url)
        st.failures, st.next_due, st.dead_since = 20, far, dead_since
        store.save(st)
    feeds = [Feed("https://dead.example/rss", "d"), Feed("https://ailing.example/rss", "a")]

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_forever(feeds, store, ListSink(), tick=0.05, report_every=0.05, stop=stop))
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.wait_for(task, 5)

    with caplog.at_level(logging.ERROR, logger="newsrift.connectors"):
        asyncio.run(go())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event=feeds_failing ")]
    assert lines and all("urls=https://ailing.example/rss" in line and "dead.example" not in line for line in lines)
