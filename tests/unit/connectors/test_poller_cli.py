"""The poller's guarantees (nothing marked seen before the sink acknowledged it, schedules, backoff) and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from newsrift.cli.ingest import register
from newsrift.connectors.http import make_client
from newsrift.connectors.poller import (
    PollConfig,
    Summary,
    backoff_delay,
    feed_interval,
    poll_feed,
    poll_once,
    run_forever,
)
from newsrift.connectors.registry import Feed, load_registry
from newsrift.connectors.sinks import JsonlSink, PublishError, encode_raw, publish_each, read_jsonl
from newsrift.connectors.state import StateStore
from newsrift.errors import MessageError
from newsrift.model import RawArticle
from newsrift.runtime.analyze import analyze_file

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

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        return publish_each(self, raws)

    def close(self) -> None:
        pass


class GappySink(FlakySink):
    """A batch where one article in the middle is refused (one partition's leader gone) and the rest acknowledged."""

    def __init__(self, refuse: str) -> None:
        super().__init__(ok=10**6)
        self.refuse = refuse

    def publish_many(self, raws: Sequence[RawArticle]) -> list[PublishError | None]:
        out: list[PublishError | None] = []
        for r in raws:
            if self.refuse in r.url:
                out.append(PublishError("not leader"))
            else:
                self.got.append(r)
                out.append(None)
        return out


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


def test_only_the_acknowledged_items_of_a_batch_are_marked_seen(tmp_path: Path) -> None:
    f = tmp_path / "f.xml"
    f.write_text(RSS.replace("</channel>", "<item><title>Three</title><link>/a/3</link></item></channel>"))
    feeds, store = [Feed(f.as_uri(), "ex")], StateStore(tmp_path / "st")
    s = asyncio.run(poll_once(feeds, store, GappySink(refuse="/a/2")))
    assert (s.new, s.failed, s.ok) == (2, 1, 0)
    st = store.load(f.as_uri())
    assert len(st.seen) == 2 and st.etag is None and st.next_due > 0
    sink = FlakySink(ok=10)
    s = asyncio.run(poll_once(feeds, store, sink))
    assert [r.url for r in sink.got] == ["https://ex.example/a/2"] and (s.new, s.skipped, s.ok) == (1, 2, 1)


def test_an_article_listed_twice_in_one_feed_is_published_once(tmp_path: Path) -> None:
    f = tmp_path / "f.xml"
    f.write_text(RSS.replace("<link>/a/2</link>", "<link>/a/1?utm_source=dup</link>"))
    sink = FlakySink(ok=10)
    s = asyncio.run(poll_once([Feed(f.as_uri(), "ex")], StateStore(tmp_path / "st"), sink))
    assert (s.new, s.skipped) == (1, 1) and len(sink.got) == 1


def test_a_permanent_failure_backs_off_to_the_cap_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSRIFT_ALLOW_PRIVATE_NETWORKS", raising=False)
    cfg = PollConfig(jitter=0.0)
    store = StateStore(tmp_path / "st")

    async def go() -> Summary:
        async with make_client() as client:
            return await poll_feed(client, Feed("http://127.0.0.1:9/feed", "x"), store, FlakySink(0), cfg)

    t0 = time.time()
    assert asyncio.run(go()).failed == 1
    st = store.load("http://127.0.0.1:9/feed")
    assert st.failures == 1 and "non-public" in (st.last_error or "")
    assert st.next_due - t0 >= cfg.max_backoff - 5


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


def test_the_jsonl_sink_writes_tagged_raw_articles_that_read_back_and_that_analyze_takes(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    raw = RawArticle("a1", "o", "https://ex.example/1", "Minister resigns",
                     content="<p>The minister resigned on Monday after a vote in parliament, officials said.</p>")
    sink = JsonlSink(out)
    sink.publish(raw)
    sink.close()
    line = out.read_bytes()
    assert json.loads(line)["type"] == "raw_article" and line == encode_raw(raw) + b"\n"  # what Kafka gets
    assert list(read_jsonl(out)) == [raw]
    counts = analyze_file(out, tmp_path / "analysed.jsonl")
    assert (counts["article"], counts["rejected"]) == (1, 0)


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ('{"article_id": "a2", "outlet_id": "o", "url": "u"}', "no 'type' on news.articles.raw.v1"),
        ('{"type": "claim", "article_id": "a2"}', "type 'claim' on news.articles.raw.v1, which carries raw_article"),
        ('{"type": "raw_article", "outlet_id": "o", "url": "u"}', "article_id"),
        ("not json", "not JSON"),
    ],
)
def test_a_jsonl_line_that_is_no_raw_article_is_an_error_naming_the_line(tmp_path: Path, bad: str, why: str) -> None:
    out = tmp_path / "o.jsonl"
    good = encode_raw(RawArticle("a1", "o", "https://ex.example/1", "t")).decode()
    out.write_text(f"{good}\n\n{bad}\n")
    with pytest.raises(MessageError, match=f"o.jsonl line 3: .*{re.escape(why)}"):
        list(read_jsonl(out))
    assert out.read_text() == f"{good}\n\n{bad}\n"  # reading changes nothing


def test_a_feed_given_by_hand_keeps_its_registry_outlet(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "f.xml").write_text(RSS)
    reg = tmp_path / "r.toml"
    reg.write_text('[[outlets]]\nid = "ex-news"\nlanguage = "de"\nfeeds = ["feeds/f.xml"]\n')
    out = tmp_path / "o.jsonl"
    r = CliRunner().invoke(_app(), ["ingest", "--once", "--feed", (tmp_path / "feeds" / "f.xml").as_uri(),
                                    "--registry", str(reg), "--state-dir", str(tmp_path / "st"),
                                    "--to-jsonl", str(out)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(x["outlet_id"], x["language"]) for x in rows} == {("ex-news", "de")}


def test_feeds_add_with_settings_and_list_with_health(tmp_path: Path) -> None:
    reg, app, run = tmp_path / "r.toml", _app(), CliRunner()
    (tmp_path / "good.xml").write_text(RSS)
    assert run.invoke(app, ["feeds", "add", "ex", "good.xml", "--poll-interval", "120", "--full-text",
                            "--registry", str(reg)]).exit_code == 0
    (tmp_path / "missing.xml").write_text(RSS)  # feeds add wants an existing file; it goes missing afterwards
    assert run.invoke(app, ["feeds", "add", "ex", "missing.xml", "--registry", str(reg)]).exit_code == 0
    (tmp_path / "missing.xml").unlink()
    feeds = {Path(f.url).name: f for f in load_registry(reg).feeds()}
    assert (feeds["good.xml"].poll_interval, feeds["good.xml"].full_text) == (120.0, True)
    assert (feeds["missing.xml"].poll_interval, feeds["missing.xml"].full_text) == (None, False)
    run.invoke(app, ["ingest", "--once", "--registry", str(reg), "--state-dir", str(tmp_path / "st"),
                     "--to-jsonl", str(tmp_path / "o.jsonl")])
    lines = run.invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(tmp_path / "st"),
                             "--to-jsonl", str(tmp_path / "o.jsonl")]).output.strip().splitlines()
    assert "missing.xml\tfailing\tfailures=1" in lines[0]  # failing feeds first
    assert "good.xml\tok\tfailures=0" in lines[1]


def test_every_command_has_help() -> None:
    app, run = _app(), CliRunner()
    for cmd in (["ingest"], ["feeds", "list"], ["feeds", "add"], ["feeds", "remove"], ["feeds", "import-opml"],
                ["feeds", "export-opml"]):
        r = run.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0 and len(r.output) > 100, cmd
    assert "--to-jsonl" in run.invoke(app, ["ingest", "--help"]).output


def test_connectors_do_not_import_faust() -> None:
    import subprocess
    import sys

    code = "import sys, newsrift.connectors, newsrift.cli.ingest; print('faust' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
