"""Feed bytes to feedparser entries, and entries to raw articles: canonical URLs, deterministic ids, UTC times."""

from __future__ import annotations

import calendar
import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import feedparser

from newsrift.errors import NewsriftError
from newsrift.model import RawArticle, stable_id

__all__ = ["FeedParseError", "canonical_url", "entry_to_raw", "item_hash", "parse_feed"]

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "at_", "ga_", "hsa_", "oly_", "wt_")  # wt_: Webtrekk (heise &c.)
_TRACKING = {"fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "twclid", "cmpid", "ocid",
             "ncid", "ref_src", "smid", "s_cid", "_hsenc", "_hsmi", "mkt_tok", "amp", "outputtype", "cid_source"}
_HOST_VARIANTS = ("m.", "mobile.", "amp.")
_FUTURE_SLACK = timedelta(days=1)


class FeedParseError(NewsriftError):
    """The bytes could not be read as a feed at all: empty, or neither RSS, Atom nor RDF and without entries."""


def _filtered_query(query: str) -> str:
    # Keep the original encoding of the remaining pairs (re-encoding could change what the server sees);
    # sort them so the same link with parameters in another order gives the same id.
    kept = []
    for pair in query.split("&"):
        if not pair:
            continue
        key = pair.split("=", 1)[0].lower()
        if key.startswith(_TRACKING_PREFIXES) or key in _TRACKING:
            continue
        kept.append(pair)
    return "&".join(sorted(kept))


def canonical_url(url: str, base: str | None = None) -> str:
    """One URL per article: relative links resolved, tracking parameters, fragments, AMP and mobile variants gone.

    Raises ``ValueError`` for a URL that cannot be parsed at all ("http://[oops/", an NFKC-invalid host, a port
    outside 0-65535): callers treat such a link as absent rather than guess an identity from it.
    """
    url = url.strip()
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    port = parts.port  # ValueError for "host:abc" or "host:99999", as documented
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValueError(f"no host in {url!r}")  # "http://@//m": nothing to identify an article by
    if ":" in host:  # an IPv6 literal: hostname dropped its brackets, the URL needs them back
        host = f"[{host}]"
    # Only strip when something registrable remains: "m.example" is a site of its own, "m.example.com" a variant.
    # Repeated until nothing changes, so that canonical_url(canonical_url(u)) == canonical_url(u).
    stripped = True
    while stripped:
        stripped = False
        for prefix in _HOST_VARIANTS:
            if host.startswith(prefix) and host.count(".") >= 2:
                host, stripped = host[len(prefix) :], True
    default_port = {"http": 80, "https": 443}[scheme]
    netloc = host + (f":{port}" if port and port != default_port else "")
    segs = [s for s in (parts.path or "/").split("/") if s.lower() != "amp"]
    path = "/".join(segs) or "/"
    if not path.startswith("/"):
        path = "/" + path
    while path.endswith((".amp", ".amp.html")):
        path = path[: -len(".amp")] if path.endswith(".amp") else path[: -len(".amp.html")] + ".html"
    return urlunsplit((scheme, netloc, path, _filtered_query(parts.query), ""))


def parse_feed(data: bytes, url: str | None = None, content_type: str | None = None) -> Any:
    """feedparser over untrusted bytes. Returns its result (``bozo`` set when the feed was malformed but readable);
    raises ``FeedParseError`` when nothing usable came out: an empty body, bytes that are no feed (an HTML page,
    an XML document of another kind), or a malformed document without entries or a title. A well-formed feed
    without items (an RSS ``<channel>`` with no ``<item>``) is valid and empty. Never raises anything else."""
    if not data.strip():
        raise FeedParseError(f"{url or 'feed'}: not a feed (empty response)")
    headers = {"content-type": content_type or "application/xml"}
    if url and url.startswith(("http://", "https://")):
        headers["content-location"] = url
    try:
        parsed = feedparser.parse(data, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as e:  # feedparser is defensive, but one malformed byte sequence must not kill a poller
        raise FeedParseError(f"{url or 'feed'}: parser failed: {type(e).__name__}: {e}") from e
    if parsed.get("bozo") and not parsed.get("entries") and not parsed.get("feed", {}).get("title"):
        problem = parsed.get("bozo_exception")
        raise FeedParseError(f"{url or 'feed'}: not a feed ({type(problem).__name__}: {str(problem)[:200]})")
    if not parsed.get("version") and not parsed.get("entries"):
        # feedparser names the format it recognised (rss20, atom10, rss10, ...); nothing recognised and no entries:
        # a home page, an error page or another XML document where the feed should be.
        raise FeedParseError(f"{url or 'feed'}: not a feed (no RSS, Atom or RDF document, no entries)")
    return parsed


def _time(entry: Any, *keys: str) -> datetime | None:
    for k in keys:
        t = entry.get(k)
        if t:
            try:
                # feedparser's *_parsed values are UTC struct_times; timegm keeps them UTC.
                return datetime.fromtimestamp(calendar.timegm(t), tz=timezone.utc)
            except (OverflowError, ValueError, TypeError, OSError):
                continue
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _content(entry: Any) -> str | None:
    content = entry.get("content")
    # feedparser gives a list of {type, value} dicts; anything else (a hand-built or odd entry) has no body here.
    items = content if isinstance(content, list | tuple) else []
    bodies = [str(c.get("value") or "") for c in items if hasattr(c, "get")]
    best = max(bodies, key=len, default="").strip()
    return best or _text(entry.get("summary"))


def item_hash(raw: RawArticle) -> str:
    """What decides whether a re-published item was edited: title and content, nothing volatile."""
    return hashlib.sha1(f"{raw.title}\x1f{raw.content or raw.summary or ''}".encode()).hexdigest()


def _web_url(value: str | None, base: str | None) -> str | None:
    """The canonical http(s) URL of a link, or None when it is relative with no base, another scheme, or garbage."""
    if not value:
        return None
    try:
        url = canonical_url(value, base)
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) and urlsplit(url).hostname else None


def entry_to_raw(entry: Any, *, feed_url: str, feed_link: str | None, outlet_id: str, language: str | None,
                 now: datetime) -> RawArticle | None:
    """One entry as a raw article; None when the entry has neither a usable link nor an id (nothing identifies it).

    ``article_id`` is ``stable_id("url", canonical link)``; without a usable link it is
    ``stable_id("guid", outlet_id, guid)``: the outlet rather than the feed URL, so an id survives the feed moving
    (http to https, a new feed host) and does not depend on where a local seed file happens to sit on disk.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    link = _text(entry.get("link"))
    guid = _text(entry.get("id") or entry.get("guid"))
    base = feed_link or (feed_url if feed_url.startswith(("http://", "https://")) else None)
    base = base if _web_url(base, None) else None  # a malformed channel link must not break every item
    url = _web_url(link, base)
    if url:
        article_id = stable_id("url", url)
    elif guid:
        # RDF's rdf:about and many Atom ids are the article's address: the best url there is when no link is given.
        url = _web_url(guid, None) or link or guid
        article_id = stable_id("guid", outlet_id, guid)
    else:
        return None
    published = _time(entry, "published_parsed", "updated_parsed", "created_parsed")
    if published is not None and published > now + _FUTURE_SLACK:
        # A date far ahead is a feed bug (local time labelled UTC, a wrong year); sorting by it would pin the item
        # to the top of every timeline, so the first-seen time stands in, marked as such.
        published = None
    return RawArticle(
        article_id=article_id, outlet_id=outlet_id, url=url, title=_text(entry.get("title")) or "",
        feed_url=feed_url, guid=guid, summary=_text(entry.get("summary")), content=_content(entry),
        author=_text(entry.get("author")), language=language or _text(entry.get("language")),
        published=published or now, published_is_fallback=published is None, fetched_at=now,
    )
