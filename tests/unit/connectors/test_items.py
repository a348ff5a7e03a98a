"""Feed entries to raw articles, on real feed snapshots and hand-made edge cases."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from newsrift.connectors.items import FeedParseError, canonical_url, entry_to_raw, item_hash, parse_feed
from newsrift.model import RawArticle, stable_id

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(("raw", "want"), [
    ("HTTPS://WWW.Ex.example/a/b?utm_source=rss&id=3#frag", "https://www.ex.example/a/b?id=3"),
    ("https://ex.example/a?b=2&a=1&gclid=x&mc_cid=1&fbclid=2", "https://ex.example/a?a=1&b=2"),
    ("https://m.ex.example/news/x", "https://ex.example/news/x"),
    ("https://mobile.ex.example/news/x", "https://ex.example/news/x"),
    ("https://amp.ex.example/news/x", "https://ex.example/news/x"),
    ("https://ex.example/amp/news/x", "https://ex.example/news/x"),
    ("https://ex.example/news/x/amp", "https://ex.example/news/x"),
    ("https://ex.example/news/x?amp", "https://ex.example/news/x"),
    ("https://ex.example/news/x?amp=1&page=2", "https://ex.example/news/x?page=2"),
    ("https://ex.example/news/x.amp.html", "https://ex.example/news/x.html"),
    ("http://ex.example:80/x", "http://ex.example/x"),
    ("https://ex.example:8443/x", "https://ex.example:8443/x"),
    ("https://m.example/x", "https://m.example/x"),  # a two-label host is a site, not a mobile variant
    ("https://ex.example/q?name=a%20b", "https://ex.example/q?name=a%20b"),  # remaining encoding kept
    ("https://ex.example", "https://ex.example/"),
    ("http://[2001:DB8::1]:8080/x#f", "http://[2001:db8::1]:8080/x"),  # IPv6 literals keep their brackets
    ("https://ex.example/a?fbclid=1&gclid=2&utm_campaign=z", "https://ex.example/a"),
])
def test_canonical_url(raw: str, want: str) -> None:
    assert canonical_url(raw) == want


def test_relative_links_resolve_against_the_feed_link() -> None:
    assert canonical_url("../b/c?utm_medium=x", "https://ex.example/a/index.html") == "https://ex.example/b/c"


def _raws(name: str, url: str = "https://feeds.example/x") -> list[RawArticle]:
    parsed = parse_feed((FIXTURES / name).read_bytes(), url)
    link = parsed.feed.get("link")
    out = [entry_to_raw(e, feed_url=url, feed_link=link, outlet_id="o", language=None, now=NOW)
           for e in parsed.entries]
    return [r for r in out if r is not None]


def test_guardian_rss2() -> None:
    raws = _raws("guardian.rss")
    assert len(raws) == 3
    r = raws[0]
    assert r.url == "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord"
    assert r.article_id == stable_id("url", r.url)
    assert r.published == datetime(2018, 1, 31, 7, 26, 5, tzinfo=timezone.utc) and not r.published_is_fallback
    assert r.author == "David Smith in Washington"
    assert r.content and "new American moment" in r.content


def test_heise_atom_drops_tracking_and_converts_to_utc() -> None:
    raws = _raws("heise.atom")
    assert len(raws) == 3
    assert raws[0].url == "http://www.heise.de/developer/meldung/Java-Anwendungsserver-Red-Hat-gibt-WildFly-10-frei-" \
                          "3088438.html"
    assert raws[0].published == datetime(2016, 2, 1, 16, 22, tzinfo=timezone.utc)
    assert raws[0].title == "Java-Anwendungsserver: Red Hat gibt WildFly 10 frei"
    assert raws[0].content and len(raws[0].content) > len(raws[0].summary or "")  # the longest body wins


def test_reddit_entities_decode() -> None:
    raws = _raws("reddit.rss")
    assert len(raws) == 3
    assert raws[1].title.startswith('"Safe Space" Students')


def _entry(**kw: object) -> dict[str, object]:
    return dict(kw)


def test_guid_fallback_and_first_seen_time() -> None:
    r = entry_to_raw(_entry(id="tag:ex,2018:1", title="T"), feed_url="https://f.example/rss", feed_link=None,
                     outlet_id="o", language="en", now=NOW)
    assert r is not None
    assert r.article_id == stable_id("guid", "o", "tag:ex,2018:1")  # the outlet, not where the feed lives
    assert r.published == NOW and r.published_is_fallback
    assert entry_to_raw(_entry(title="nothing to identify"), feed_url="f", feed_link=None, outlet_id="o",
                        language=None, now=NOW) is None


def test_edit_changes_the_hash_but_not_the_id() -> None:
    a = entry_to_raw(_entry(link="https://ex.example/a", title="T", summary="one"), feed_url="f", feed_link=None,
                     outlet_id="o", language=None, now=NOW)
    b = entry_to_raw(_entry(link="https://ex.example/a#x", title="T", summary="two"), feed_url="f", feed_link=None,
                     outlet_id="o", language=None, now=NOW)
    assert a and b and a.article_id == b.article_id and item_hash(a) != item_hash(b)


def test_garbage_is_a_clean_parse_error() -> None:
    with pytest.raises(FeedParseError, match="not a feed"):
        parse_feed(b"\x00\x01\xff binary garbage")


def test_billion_laughs_is_not_expanded() -> None:
    lol = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    ) + b']><rss version="2.0"><channel><title>&j;</title><item><title>x</title>' \
        b'<link>https://ex.example/1</link></item></channel></rss>'
    try:
        parsed = parse_feed(lol)
    except FeedParseError:
        return
    assert len(str(parsed.feed.get("title", ""))) < 1_000_000


@pytest.mark.parametrize("bad", ["http://[oops/x", "https://exa\uff0fmple.com/", "http://ex.example:99999/"])
def test_unparseable_links_raise_value_error_and_entries_fall_back_to_the_guid(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(bad)
    r = entry_to_raw(_entry(link=bad, id="g-1", title="T"), feed_url="https://f.example/rss", feed_link=bad,
                     outlet_id="o", language=None, now=NOW)
    assert r is not None and r.article_id == stable_id("guid", "o", "g-1")


def test_a_date_far_in_the_future_is_replaced_by_first_seen() -> None:
    far = (2099, 1, 1, 0, 0, 0, 3, 1, 0)
    r = entry_to_raw(_entry(link="https://ex.example/a", published_parsed=far), feed_url="f", feed_link=None,
                     outlet_id="o", language=None, now=NOW)
    assert r is not None and r.published == NOW and r.published_is_fallback
    soon = (2026, 1, 1, 6, 0, 0, 3, 1, 0)  # six hours ahead: a sloppy time zone, kept
    r = entry_to_raw(_entry(link="https://ex.example/a", published_parsed=soon), feed_url="f", feed_link=None,
                     outlet_id="o", language=None, now=NOW)
    assert r is not None and r.published == datetime(2026, 1, 1, 6, tzinfo=timezone.utc)


def test_external_entities_are_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    xxe = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">]><rss version="2.0">' \
          '<channel><title>t</title><item><title>&x;</title><link>https://ex.example/1</link></item></channel></rss>'
    try:
        parsed = parse_feed(xxe.encode())
    except FeedParseError:
        return
    assert "TOP-SECRET" not in repr(parsed)


# feedparser's own edge cases (kurtmckee/feedparser tests/, BSD-2-Clause; see fixtures/feeds/LICENSES.md)

def test_rdf_item_without_link_is_identified_by_rdf_about() -> None:
    (r,) = _raws("fp-rdf_item_rdf_about.xml")
    assert r.guid == "http://example.org/1" and r.url == "http://example.org/1"
    assert r.article_id == stable_id("guid", "o", "http://example.org/1") and r.published_is_fallback


def test_an_item_with_nothing_to_identify_it_is_skipped_and_euc_kr_decodes() -> None:
    parsed = parse_feed((FIXTURES / "fp-euc-kr-item.xml").read_bytes(), "https://feeds.example/x")
    assert not parsed.bozo and parsed.entries[0]["description"] == "\ub144"
    assert _raws("fp-euc-kr-item.xml") == []


def test_koi8_r_feed_without_items_is_a_feed_not_an_error() -> None:
    parsed = parse_feed((FIXTURES / "fp-x80_koi8-r.xml").read_bytes(), "https://feeds.example/x")
    assert parsed.feed["title"] == "\u2500" and parsed.entries == []


def test_a_bozo_feed_that_still_has_items_is_used() -> None:
    parsed = parse_feed((FIXTURES / "fp-rss_item_link_corrupted_ampersands.xml").read_bytes(), "https://f.example/x")
    assert parsed.bozo
    (r,) = _raws("fp-rss_item_link_corrupted_ampersands.xml")
    assert r.url == "http://link/get?a=1&b=2"


def test_relative_link_resolves_against_the_document_url() -> None:
    (r,) = _raws("fp-http_entry_link_base_docuri.xml", url="http://127.0.0.1:8097/feed")
    assert r.url == "http://127.0.0.1:8097/relative/link"
