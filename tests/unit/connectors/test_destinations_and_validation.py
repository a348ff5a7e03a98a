"""Feed state per destination (a JSONL trial does not starve a later Kafka run), the topic default with
NEWSRIFT_TOPIC_PREFIX, legacy state migration, and what `feeds add` / `import-opml` / the parser refuse."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

from newsrift.cli import ingest as cli
from newsrift.connectors.items import FeedParseError, parse_feed
from newsrift.connectors.poller import PollConfig, poll_once
from newsrift.connectors.registry import Feed, check_feed_url, check_outlet_id, load_registry, parse_opml
from newsrift.connectors.state import FeedState, StateStore, jsonl_state_dir, kafka_state_dir, migrate_legacy_state
from newsrift.errors import ConfigError
from newsrift.settings import get_settings
from tests.unit.connectors.conftest import ListSink, RouteServer, rss

ROOT = Path(__file__).resolve().parents[3]
SEEDS = ROOT / "seeds" / "outlets.toml"
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://ex.example/</link>
<item><title>One</title><link>/a/1</link></item><item><title>Two</title><link>/a/2</link></item></channel></rss>"""


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """Settings of this test's own (NEWSRIFT_HOME in tmp_path), read afresh, and the cache cleared afterwards."""
    monkeypatch.setenv("NEWSRIFT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("NEWSRIFT_TOPIC_PREFIX", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


class FakeKafka(ListSink):
    made: ClassVar[list[FakeKafka]] = []

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__()
        self.bootstrap, self.topic = bootstrap, topic
        FakeKafka.made.append(self)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """test root"""

    cli.register(app)
    return app


def _last(output: str) -> str:
    return output.strip().splitlines()[-1]


# ---------------------------------------------------------------------------------------------- state folders


def test_each_destination_has_its_own_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    st = tmp_path / "st"
    assert kafka_state_dir(st, "news.articles.raw.v1") == st / "kafka" / "news.articles.raw.v1"
    assert kafka_state_dir(st, "a") != kafka_state_dir(st, "b")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    a = jsonl_state_dir(st, Path("sub/trial.jsonl"))
    assert a == jsonl_state_dir(st, tmp_path / "sub" / "trial.jsonl")
    assert a == jsonl_state_dir(st, Path("./sub/../sub/trial.jsonl"))
    assert a.parent == st / "jsonl" and a.name.startswith("trial.jsonl-")
    assert a != jsonl_state_dir(st, tmp_path / "other" / "trial.jsonl")  # same name, other file


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../x", "a b", "x" * 250])
def test_a_topic_kafka_would_refuse_is_no_folder_name(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="not a Kafka topic name"):
        kafka_state_dir(tmp_path, bad)


def test_legacy_state_moves_into_the_default_topic_folder_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(FeedState("https://a.example/rss", etag="e1", last_success="2024-01-01T00:00:00Z"))
    (tmp_path / "notes.json").write_text("{}")  # not a state file: stays
    target = kafka_state_dir(tmp_path, "news.articles.raw.v1")
    assert migrate_legacy_state(tmp_path, target) == 1
    assert StateStore(target).load("https://a.example/rss").etag == "e1"
    assert (tmp_path / "notes.json").exists() and not list(tmp_path.glob("??????????????????????????.json"))
    StateStore(tmp_path).save(FeedState("https://b.example/rss"))
    assert migrate_legacy_state(tmp_path, target) == 0  # the folder exists: nothing more is moved


def test_legacy_state_goes_to_the_unprefixed_topic_the_old_versions_published_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from newsrift.cli.ingest import state_dir_for
    from newsrift.settings import get_settings

    StateStore(tmp_path).save(FeedState("https://a.example/rss", etag="e1"))
    monkeypatch.setenv("NEWSRIFT_TOPIC_PREFIX", "dev.")
    get_settings.cache_clear()
    try:
        dest = state_dir_for(tmp_path, get_settings().topic("news.articles.raw.v1"), None)
    finally:
        get_settings.cache_clear()
    # The prefixed topic never received those items: its state starts empty, the old state keeps its own topic.
    assert dest == kafka_state_dir(tmp_path, "dev.news.articles.raw.v1")
    assert StateStore(dest).load("https://a.example/rss").etag is None
    assert StateStore(kafka_state_dir(tmp_path, "news.articles.raw.v1")).load("https://a.example/rss").etag == "e1"


def test_a_migration_cut_short_is_finished_by_the_next_run(tmp_path: Path) -> None:
    target = kafka_state_dir(tmp_path, "t")
    StateStore(tmp_path).save(FeedState("https://a.example/rss", etag="a"))
    StateStore(tmp_path).save(FeedState("https://b.example/rss", etag="b"))
    staging = target.with_name(".t.migrating")
    staging.mkdir(parents=True)
    first = StateStore(tmp_path).path("https://a.example/rss")
    os.replace(first, staging / first.name)  # the crash came after one file
    assert migrate_legacy_state(tmp_path, target) == 1
    assert not staging.exists()
    assert {StateStore(target).load(u).etag for u in ("https://a.example/rss", "https://b.example/rss")} == {"a", "b"}


def test_a_jsonl_trial_does_not_make_the_kafka_run_skip_anything(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    env.setattr(cli, "KafkaSink", FakeKafka)
    FakeKafka.made.clear()
    run, app, st = CliRunner(), _app(), tmp_path / "st"
    common = ["ingest", "--once", "--registry", str(SEEDS), "--state-dir", str(st)]
    r = run.invoke(app, [*common, "--to-jsonl", str(tmp_path / "trial.jsonl")])
    assert _last(r.output).endswith("new=5 updated=0 skipped=0"), r.output
    r = run.invoke(app, common)
    assert r.exit_code == 0, r.output
    assert _last(r.output).endswith("new=5 updated=0 skipped=0")
    assert len(FakeKafka.made[-1].got) == 5
    assert _last(run.invoke(app, common).output).endswith("new=0 updated=0 skipped=5")  # its own state is kept
    assert sorted(p.name for p in (st / "kafka").iterdir()) == ["news.articles.raw.v1"]


def test_topic_and_state_dir_default_to_the_settings(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    env.setenv("NEWSRIFT_TOPIC_PREFIX", "t1.")
    env.setattr(cli, "KafkaSink", FakeKafka)
    FakeKafka.made.clear()
    env.chdir(tmp_path)
    r = CliRunner().invoke(_app(), ["ingest", "--once", "--registry", str(SEEDS)])
    assert r.exit_code == 0, r.output
    assert FakeKafka.made[-1].topic == "t1.news.articles.raw.v1"
    folder = tmp_path / "home" / "state" / "connectors" / "kafka" / "t1.news.articles.raw.v1"
    assert len(list(folder.glob("*.json"))) == 4
    assert not (tmp_path / ".newsrift").exists()  # nothing relative to the current directory


def test_feeds_list_reads_legacy_state_and_chooses_the_destination(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    (tmp_path / "f.xml").write_text(FEED)
    reg = tmp_path / "r.toml"
    reg.write_text('[[outlets]]\nid = "ex"\nfeeds = ["f.xml"]\n')
    url = load_registry(reg).feeds()[0].url
    st = tmp_path / "st"
    StateStore(st).save(FeedState(url, last_success="2024-01-01T00:00:00Z"))  # written by an older version
    run, app = CliRunner(), _app()
    r = run.invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(st)])
    assert r.exit_code == 0, r.output
    assert f"{url}\tok\t" in r.output and "last_success=2024-01-01T00:00:00Z" in r.output
    r = run.invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(st), "--to-jsonl",
                         str(tmp_path / "o.jsonl")])
    assert f"{url}\tnever-polled\t" in r.output
    r = run.invoke(app, ["feeds", "list", "--registry", str(reg), "--state-dir", str(st), "--topic", "a/b"])
    assert r.exit_code == 1 and "not a Kafka topic name" in r.output


# ---------------------------------------------------------------------------------------------------- feeds add


@pytest.mark.parametrize("oid", ["", " ", "a b", "-x", "a/b", "x" * 101, "a\nb"])
def test_unusable_outlet_ids_are_refused(oid: str) -> None:
    with pytest.raises(ConfigError, match="outlet id"):
        check_outlet_id(oid)


def test_usable_outlet_ids_pass() -> None:
    for oid in ("global-wire", "bbc.co.uk", "le_monde", "süddeutsche", "a"):
        check_outlet_id(oid)


@pytest.mark.parametrize(("url", "reason"), [
    ("", "empty"), ("javascript:alert(1)", "unsupported scheme"), ("gopher://g.example/", "unsupported scheme"),
    ("http://", "no host"), ("https://x.example:99999/", "(?i)port"), ("http:x.example", "write it as"),
    ("https://x.example/a b", "spaces"), ("missing.xml", "no such file"), ("file://", "needs a path"),
])
def test_unusable_feed_urls_are_refused(tmp_path: Path, url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        check_feed_url(url, tmp_path)


def test_usable_feed_urls_pass(tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_text(FEED)
    for url in ("https://x.example/rss", "HTTP://x.example:8080/rss", "file:///srv/f.xml", "f.xml"):
        assert check_feed_url(url, tmp_path) == url


def test_feeds_add_refuses_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    reg = tmp_path / "r.toml"
    run, app = CliRunner(), _app()
    for args in (["", "https://x.example/rss"], ["ex", "javascript:alert(1)"], ["ex", "nope.xml"]):
        r = run.invoke(app, ["feeds", "add", *args, "--registry", str(reg)])
        assert r.exit_code == 1 and r.output.startswith("error: ") and len(r.output.strip().splitlines()) == 1
        assert not reg.exists()
    assert run.invoke(app, ["feeds", "add", "a", "https://x.example/rss", "--registry", str(reg)]).exit_code == 0
    r = run.invoke(app, ["feeds", "add", "b", "https://x.example/rss", "--registry", str(reg)])
    assert r.exit_code == 1 and "already a feed of outlet 'a'" in r.output
    assert [o.id for o in load_registry(reg).outlets] == ["a"]


def test_feeds_add_keeps_the_header_comments_and_says_what_it_drops(tmp_path: Path) -> None:
    reg = tmp_path / "r.toml"
    reg.write_text("# Header one\n# Header two\n\n[[outlets]]\nid = \"a\"  # inline\nfeeds = [\"https://a.example/\"]\n")
    r = CliRunner().invoke(_app(), ["feeds", "add", "b", "https://b.example/rss", "--registry", str(reg)])
    assert r.exit_code == 0, r.output
    assert reg.read_text().startswith("# Header one\n# Header two\n\n[[outlets]]")
    assert "1 other line(s) with comments are not" in r.output
    assert [o.id for o in load_registry(reg).outlets] == ["a", "b"]
    r = CliRunner().invoke(_app(), ["feeds", "remove", "https://b.example/rss", "--registry", str(reg)])
    assert r.exit_code == 0 and "note" not in r.output  # nothing left to drop
    assert reg.read_text().startswith("# Header one\n# Header two\n")


def test_feeds_add_where_the_registry_cannot_be_written_is_one_line(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # outside the repository: seeds/ does not exist
    r = CliRunner().invoke(_app(), ["feeds", "add", "ex", "https://x.example/rss"])
    assert r.exit_code == 1
    assert r.output.startswith("error: cannot write the registry seeds/outlets.toml") and "--registry" in r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)


# ------------------------------------------------------------------------------------------------------- OPML


OPML = (b'<opml version="2.0"><body><outline text="folder">'
        b'<outline text="A" xmlUrl="https://a.example/rss"/><outline text="J" xmlUrl="javascript:alert(1)"/>'
        b'<outline text="G" xmlUrl="gopher://g.example/"/><outline text="Bare"/></outline></body></opml>')


def test_opml_outlines_that_are_no_usable_feed_are_reported() -> None:
    skipped: list[str] = []
    outlets = parse_opml(OPML, "x.opml", skipped)
    assert [o.feeds[0].url for o in outlets] == ["https://a.example/rss"]
    assert len(skipped) == 3  # the folder holding them is not reported
    assert any("'J'" in s and "javascript" in s for s in skipped) and any("'G'" in s and "gopher" in s
                                                                          for s in skipped)
    assert any("'Bare'" in s and "no xmlUrl" in s for s in skipped)


@pytest.mark.parametrize(("data", "reason"), [
    (FEED.encode(), "not an OPML file"), (b'<opml version="2.0"><body/></opml>', "no usable feeds"),
    (b'<opml><body><outline xmlUrl="javascript:x"/></body></opml>', "no usable feeds"),
])
def test_a_file_that_is_no_opml_or_has_no_feeds_is_an_error(data: bytes, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_opml(data, "x")


def test_import_opml_of_an_rss_file_fails_and_writes_no_registry(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text(FEED)
    reg = tmp_path / "r.toml"
    r = CliRunner().invoke(_app(), ["feeds", "import-opml", str(tmp_path / "feed.xml"), "--registry", str(reg)])
    assert r.exit_code == 1 and "not an OPML file" in r.output
    assert not reg.exists()
    (tmp_path / "x.opml").write_bytes(OPML)
    r = CliRunner().invoke(_app(), ["feeds", "import-opml", str(tmp_path / "x.opml"), "--registry", str(reg)])
    assert r.exit_code == 0, r.output
    assert "imported 1 outlets" in r.output and "3 outlines skipped" in r.output and "skipped: " in r.output


# ------------------------------------------------------------------------------------------------ no feed at all


@pytest.mark.parametrize("data", [b"", b"  \n", b'<?xml version="1.0"?><foo><bar/></foo>',
                                  b"<html><head><title>x</title></head><body>hi</body></html>",
                                  b'<opml version="2.0"><body/></opml>'])
def test_bytes_that_are_no_feed_are_a_parse_error(data: bytes) -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(data, "https://x.example/rss")


@pytest.mark.parametrize("data", [b'<rss version="2.0"><channel></channel></rss>',
                                  b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
                                  b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'])
def test_a_feed_without_items_is_valid_and_empty(data: bytes) -> None:
    assert parse_feed(data, "https://x.example/rss").entries == []


def test_the_poller_counts_an_empty_200_and_a_non_feed_as_failed(web: Callable[..., RouteServer],
                                                                  tmp_path: Path) -> None:
    srv = web()
    xml = {"Content-Type": "application/xml"}
    srv.routes["/empty"] = (200, xml, b"")
    srv.routes["/other"] = (200, xml, b'<?xml version="1.0"?><config><a/></config>')
    srv.routes["/nothing-new"] = (200, xml, rss())
    feeds = [Feed(srv.base + p, "ex") for p in ("/empty", "/other", "/nothing-new")]
    store = StateStore(tmp_path / "st")
    s = asyncio.run(poll_once(feeds, store, ListSink(), PollConfig(per_host_interval=0)))
    assert (s.ok, s.failed) == (1, 2), s.errors
    assert "empty response" in (store.load(srv.base + "/empty").last_error or "")
    assert store.load(srv.base + "/other").failures == 1 and store.load(srv.base + "/nothing-new").failures == 0
    assert json.loads(store.path(srv.base + "/nothing-new").read_text())["last_success"]
