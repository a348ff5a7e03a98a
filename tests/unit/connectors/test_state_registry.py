"""Feed state (new / updated / skipped, atomic files) and the registry (TOML, OPML)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsrift.connectors.registry import (
    FeedEntry,
    Outlet,
    Registry,
    export_opml,
    import_opml,
    load_registry,
    parse_opml,
    save_registry,
)
from newsrift.connectors.state import MAX_SEEN, FeedState, StateStore
from newsrift.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_classify_new_skipped_updated() -> None:
    st = FeedState("u")
    assert st.classify("a", "h1") == ("new", 0)
    st.mark_seen("a", "h1", 0)
    assert st.classify("a", "h1") == ("skipped", 0)
    assert st.classify("a", "h2") == ("updated", 1)
    st.mark_seen("a", "h2", 1)
    assert st.classify("a", "h3") == ("updated", 2)


def test_seen_is_bounded_keeping_the_most_recent() -> None:
    st = FeedState("u")
    for i in range(MAX_SEEN + 10):
        st.mark_seen(str(i), "h", 0)
    assert len(st.seen) == MAX_SEEN and "0" not in st.seen and str(MAX_SEEN + 9) in st.seen


def test_state_survives_a_restart_and_corruption(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    st = store.load("https://f.example/rss")
    st.etag, st.failures = '"x"', 3
    st.mark_seen("a", "h", 0)
    store.save(st)
    again = StateStore(tmp_path).load("https://f.example/rss")
    assert again.etag == '"x"' and again.failures == 3 and again.seen == {"a": ["h", 0]}
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temporary behind
    store.path("https://f.example/rss").write_text("{not json")
    assert store.load("https://f.example/rss").seen == {}


def test_seed_registry() -> None:
    reg = load_registry(ROOT / "seeds" / "outlets.toml")
    assert [o.id for o in reg.outlets] == ["moscow-wire", "capitol-defense", "global-wire", "metro-herald"]
    assert {o.language for o in reg.outlets} == {"en"}
    assert all(f.url.startswith("file://") and Path(f.url[7:]).exists() for f in reg.feeds())


@pytest.mark.parametrize("body", [
    '[[outlets]]\nid = "a"\nfeeds = []\n',
    '[[outlets]]\nfeeds = ["x"]\n',
    '[[outlets]]\nid = "a"\nfeeds = ["x"]\n[[outlets]]\nid = "a"\nfeeds = ["y"]\n',
    '[[outlets]]\nid = "a"\nfeeds = ["x"]\npoll_interval = -5\n',
    '[[outlets]]\nid = "a"\nfeeds = ["x"]\npoll_intervall = 60\n',  # a typo is an error, not silently ignored
    '[[outlets]]\nid = "a"\nfeeds = [{ poll_interval = 60 }]\n',
    '[[outlets]]\nid = "a"\nfeeds = [{ url = "x", full_text = "yes" }]\n',
    '[[outlets]]\nid = "a"\nfeeds = [{ url = "x", every = 5 }]\n',
    '[[outlets]]\nid = "a"\nfeeds = [42]\n',
    '[[outlets]]\nid = "a"\nname = 7\nfeeds = ["x"]\n',
    'outlets = "nope"\n',
    "not toml [",
])
def test_bad_registries_are_config_errors(tmp_path: Path, body: str) -> None:
    p = tmp_path / "r.toml"
    p.write_text(body)
    with pytest.raises(ConfigError):
        load_registry(p)


def test_registry_round_trip_and_opml(tmp_path: Path) -> None:
    feeds = (FeedEntry("https://a.example/rss"), FeedEntry("feeds/a.xml", poll_interval=60.0, full_text=False))
    reg = Registry((Outlet("a", 'A "quoted"\nname', "https://a.example/", "en", 600.0, True, feeds),), tmp_path)
    p = tmp_path / "r.toml"
    save_registry(reg, p)
    back = load_registry(p)
    assert back.outlets == reg.outlets
    opml = export_opml(back)
    (tmp_path / "x.opml").write_text(opml)
    outlets = import_opml(tmp_path / "x.opml")
    assert [o.feeds[0].url for o in outlets] == ["https://a.example/rss", (tmp_path / "feeds/a.xml").as_uri()]
    assert len({o.id for o in outlets}) == 2  # same title twice still gives distinct ids


def test_opml_entity_bombs_are_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>' \
           b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://x.example/rss"/></body></opml>'
    with pytest.raises(ConfigError, match="entity"):
        parse_opml(bomb)
    ext = b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]><opml><body>' \
          b'<outline text="&x;" xmlUrl="https://x.example/rss"/></body></opml>'
    with pytest.raises(ConfigError):
        parse_opml(ext)
    with pytest.raises(ConfigError, match="not valid"):
        parse_opml(b"<opml><body>")


def test_per_feed_settings_override_the_outlet(tmp_path: Path) -> None:
    p = tmp_path / "r.toml"
    p.write_text('[[outlets]]\nid = "a"\nlanguage = "de"\npoll_interval = 600\nfull_text = true\n'
                 'feeds = ["plain.xml", { url = "https://a.example/fast", poll_interval = 60, full_text = false }]\n')
    plain, fast = load_registry(p).feeds()
    assert (plain.url, plain.poll_interval, plain.full_text, plain.language) == \
        ((tmp_path / "plain.xml").as_uri(), 600.0, True, "de")
    assert (fast.url, fast.poll_interval, fast.full_text, fast.outlet_id) == \
        ("https://a.example/fast", 60.0, False, "a")


def test_nested_opml_outlines_become_outlets_with_unique_ids() -> None:
    ok = parse_opml(b'<opml version="2.0"><body><outline text="News"><outline text="A" xmlUrl="https://a.example/rss"/>'
                    b'<outline text="A" xmlUrl="https://b.example/rss"/></outline></body></opml>')
    assert [(o.id, o.feed_urls) for o in ok] == [("a", ("https://a.example/rss",)), ("a-2", ("https://b.example/rss",))]
