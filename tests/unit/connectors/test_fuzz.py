"""Property: no input makes the parse-and-normalise path raise anything but FeedParseError."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.items import FeedParseError, entry_to_raw, parse_feed

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
