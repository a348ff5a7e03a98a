"""Property: no input makes the parse-and-normalise path raise anything but FeedParseError."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsrift.connectors.items import FeedParseError, canonical_url, entry_to_raw, parse_feed

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
_XMLISH = st.lists(st.sampled_from([
    b"<rss>", b"</rss>", b"<channel>", b"<item>", b"</item>", b"<title>", b"</title>", b"<link>", b"</link>",
    b"<feed xmlns='http://www.w3.org/2005/Atom'>", b"<entry>", b"<pubDate>Tue, 99 Feb 2018 99:00 +9999</pubDate>",
    b"<guid>", b"&amp;", b"&bogus;", b"<![CDATA[", b"]]>", b"http://x/?utm_source=1#f", b"../rel", b"\xff\xfe",
    b"<?xml version='1.0' encoding='koi8-r'?>", b"<!DOCTYPE x [<!ENTITY e 'v'>]>", b"&e;",
]), max_size=30).map(b"".join)


def _normalise(data: bytes) -> None:
    try:
        parsed = parse_feed(data, "https://f.example/rss")
    except FeedParseError:
        return
    for e in parsed.entries:
        entry_to_raw(e, feed_url="https://f.example/rss", feed_link=parsed.feed.get("link"), outlet_id="o",
                     language=None, now=NOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    _normalise(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_XMLISH)
def test_feed_shaped_noise(data: bytes) -> None:
    _normalise(data)


_PART = st.sampled_from(["amp", "m", "mobile", "www", "news", "a b", "%20", "x.amp", "y.amp.html", "", ".", "..",
                         "Ü", "[", "]", "@", ":80", ":443", ":99999"])
_QUERY = st.lists(st.tuples(st.sampled_from(["utm_source", "fbclid", "gclid", "amp", "id", "page", "mc_cid", "Q"]),
                            st.sampled_from(["", "1", "a%26b", "x"])), max_size=5)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "ftp", ""]))
    host = ".".join(draw(st.lists(_PART, min_size=1, max_size=4))) + draw(st.sampled_from([".example", ".com", ""]))
    path = "/".join(draw(st.lists(_PART, max_size=5)))
    query = "&".join(f"{k}={v}" if v else k for k, v in draw(_QUERY))
    frag = draw(st.sampled_from(["", "#top", "#"]))
    return f"{scheme}://{host}/{path}" + (f"?{query}" if query else "") + frag


@settings(max_examples=300, deadline=None)
@given(_urls())
def test_canonical_url_is_idempotent_and_strips_tracking(url: str) -> None:
    try:
        once = canonical_url(url)
    except ValueError:
        return  # documented: unparseable URLs raise ValueError, and only that
    assert canonical_url(once) == once
    if once.startswith(("http://", "https://")):
        assert "#" not in once and "utm_" not in once and "fbclid" not in once and "gclid" not in once


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=60)))
def test_canonical_url_raises_only_value_error(url: str, base: str | None) -> None:
    try:
        canonical_url(url, base)
    except ValueError:
        pass


_VALUES = st.one_of(st.none(), st.text(max_size=80), _urls(), st.integers(), st.lists(st.text(max_size=5), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["link", "id", "guid", "title", "summary", "author", "language", "content",
                                        "published_parsed"]), _VALUES, max_size=9), st.one_of(st.none(), _urls()))
def test_entry_to_raw_never_raises_on_odd_entries(entry: dict[str, object], feed_link: str | None) -> None:
    raw = entry_to_raw(entry, feed_url="https://f.example/rss", feed_link=feed_link, outlet_id="o", language=None,
                       now=NOW)
    if raw is not None:
        assert raw.published is not None and raw.published.tzinfo is not None
        assert raw.article_id and len(raw.article_id) == 20
