"""The poller's guarantees (nothing marked seen before the sink acknowledged it, schedules, backoff) and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from connectors.cli import register
from connectors.poller import PollConfig, Summary, backoff_delay, feed_interval, poll_once, run_forever
from connectors.registry import Feed
from connectors.sinks import JsonlSink, PublishError
from connectors.state import StateStore
from pipeline.model import RawArticle

ROOT = Path(__file__).resolve().parents[3]
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://ex.example/</link><ttl>30</ttl>
<item><title>One</title><link>/a/1</link></item><item><title>Two</title><link>/a/2</link></item></channel></rss>"""


class FlakySink:
    """Acknowledges the first ``ok`` articles, then fails: what a Kafka outage looks like to the poller."""

    def __init__(self, ok: int) -> None:
        self.ok = ok
        self.got: list[RawArticle] = []

    def publish(self, raw: RawArticle) -> None:
        if len(self.got) >= self.ok:
            raise PublishError("broker down")
        self.got.append(raw)

    def close(self) -> None:
        pass


def test_unacknowledged_items_are_published_on_the_next_poll(tmp_path: Path) -> None:
    f = tmp_path / "f.xml"
    f.write_text(RSS)
    feeds = [Feed(f.as_uri(), "ex")]
    store = StateStore(tmp_path / "st")
    s = asyncio.run(poll_once(feeds, store, FlakySink(ok=1)))
    assert (s.new, s.failed) == (1, 1)
    sink = FlakySink(ok=10)
    s = asyncio.run(poll_once(feeds, store, sink))
    assert (s.new, s.skipped, s.failed) == (1, 1, 0)
    assert [r.url for r in sink.got] == ["https://ex.example/a/2"]


def test_duplicate_feed_urls_are_polled_once(tmp_path: Path) -> None:
    f = tmp_path / "f.xml"
    f.write_text(RSS)
    sink = FlakySink(ok=10)
    s = asyncio.run(poll_once([Feed(f.as_uri(), "a"), Feed(f.as_uri(), "b")], StateStore(tmp_path / "st"), sink))
    assert s.ok == 1 and len(sink.got) == 2


def test_intervals_and_backoff() -> None:
    cfg = PollConfig(jitter=0.0)
    assert feed_interval({"feed": {"ttl": "30"}}, Feed("u", "o"), cfg) == 1800
    hourly_twice = {"feed": {"sy_updateperiod": "hourly", "sy_updatefrequency": "2"}}
    assert feed_interval(hourly_twice, Feed("u", "o"), cfg) == 1800
    assert feed_interval({"feed": {"ttl": "1"}}, Feed("u", "o", poll_interval=900), cfg) == 900
    assert feed_interval({"feed": {"sy_updateperiod": "yearly"}}, Feed("u", "o"), cfg) == cfg.max_interval
    assert feed_interval({"feed": {"ttl": "soon"}}, Feed("u", "o"), cfg) == 300
    assert [backoff_delay(n, 300, cfg) for n in (1, 2, 3)] == [300, 600, 1200]
    assert backoff_delay(50, 300, cfg) == cfg.max_backoff
    assert backoff_delay(1, 300, cfg, retry_after=3600) == 3600


def test_run_forever_polls_due_feeds_and_stops(tmp_path: Path) -> None:
    f = tmp_path / "f.xml"
    f.write_text(RSS)
    sink = FlakySink(ok=10)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_forever([Feed(f.as_uri(), "ex")], StateStore(tmp_path / "st"), sink,
                                               tick=0.05, stop=stop))
        for _ in range(100):
            if len(sink.got) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)

    asyncio.run(go())
    assert len(sink.got) == 2
    st = StateStore(tmp_path / "st").load(f.as_uri())
    assert st.interval == 1800 and st.failures == 0


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    register(app)
    return app


def test_ingest_once_to_jsonl_then_everything_is_skipped(tmp_path: Path) -> None:
    out, state = tmp_path / "out.jsonl", tmp_path / "st"
    args = ["ingest", "--once", "--registry", str(ROOT / "seeds/outlets.toml"), "--state-dir", str(state),
            "--to-jsonl", str(out)]
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0, r.output
    assert r.output.strip().splitlines()[-1] == "feeds ok=4 not_modified=0 failed=0 items new=5 updated=0 skipped=0"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["outlet_id"] for r in rows} == {"moscow-wire", "capitol-defense", "global-wire", "metro-herald"}
    assert all("utm_" not in r["url"] for r in rows)
    r = CliRunner().invoke(_app(), args)
    assert r.output.strip().splitlines()[-1].endswith("new=0 updated=0 skipped=5")


def test_ingest_exits_1_only_when_nothing_was_processed(tmp_path: Path) -> None:
    r = CliRunner().invoke(_app(), ["ingest", "--once", "--feed", str(tmp_path / "missing.xml"), "--state-dir",
                                    str(tmp_path / "st"), "--to-jsonl", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == "feeds ok=0 not_modified=0 failed=1 items new=0 updated=0 skipped=0"


def test_feeds_commands(tmp_path: Path) -> None:
    reg = tmp_path / "r.toml"
    app, run = _app(), CliRunner()
    assert run.invoke(app, ["feeds", "add", "ex", "https://ex.example/rss", "--name", "Ex", "--registry",
                            str(reg)]).exit_code == 0
    listed = run.invoke(app, ["feeds", "list", "--registry", str(reg)])
    assert "ex\tEx\thttps://ex.example/rss" in listed.output
    opml = run.invoke(app, ["feeds", "export-opml", "--registry", str(reg)]).output
    (tmp_path / "x.opml").write_text(opml)
    reg2 = tmp_path / "r2.toml"
    assert "imported 1 outlets" in run.invoke(app, ["feeds", "import-opml", str(tmp_path / "x.opml"), "--registry",
                                                    str(reg2)]).output
    assert run.invoke(app, ["feeds", "remove", "https://ex.example/rss", "--registry", str(reg)]).exit_code == 0
    assert run.invoke(app, ["feeds", "remove", "https://ex.example/rss", "--registry", str(reg)]).exit_code == 1
    assert run.invoke(app, ["feeds", "list", "--registry", str(tmp_path / "nope.toml")]).exit_code == 1


def test_jsonl_sink_and_summary_line(tmp_path: Path) -> None:
    assert Summary(ok=4, new=5).line() == "feeds ok=4 not_modified=0 failed=0 items new=5 updated=0 skipped=0"
    sink = JsonlSink(tmp_path / "a" / "o.jsonl")
    sink.publish(RawArticle("id", "o", "https://ex.example/", "t"))
    sink.close()
    assert json.loads((tmp_path / "a" / "o.jsonl").read_text())["article_id"] == "id"
