"""Feed entries to raw articles: canonical URLs, deterministic ids, timezone-aware times."""

from __future__ import annotations

import calendar
import hashlib
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from pipeline.model import RawArticle, stable_id

__all__ = ["canonical_url", "entry_to_raw", "item_hash"]

_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "at_", "ga_")
_TRACKING = {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "cmpid", "ocid", "ncid", "ref", "ref_src",
             "smid", "cmp", "s_cid", "amp", "outputtype"}


def canonical_url(url: str, base: str | None = None) -> str:
    """One URL per article: relative links resolved, tracking parameters, fragments, AMP and mobile variants gone."""
    if base:
        url = urljoin(base, url)
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    for prefix in ("m.", "mobile.", "amp."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    netloc = host + (f":{parts.port}" if parts.port and parts.port not in (80, 443) else "")
    path = parts.path or "/"
    segs = [s for s in path.split("/") if s.lower() != "amp"]
    path = "/".join(segs) or "/"
    if path.endswith(".amp"):
        path = path[: -len(".amp")]
    if path.endswith("/amp.html"):
        path = path[: -len("/amp.html")] + "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def _time(entry: Any, *keys: str) -> datetime | None:
    for k in keys:
        t = entry.get(k)
        if t:
            try:
                return datetime.fromtimestamp(calendar.timegm(t), tz=timezone.utc)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _content(entry: Any) -> str | None:
    bodies = [c.get("value", "") for c in entry.get("content", []) or [] if isinstance(c, dict)]
    best = max(bodies, key=len, default="")
    return best or entry.get("summary") or None


def item_hash(raw: RawArticle) -> str:
    """What decides whether a re-published item was edited."""
    return hashlib.sha1(f"{raw.title}\x1f{raw.content or raw.summary or ''}".encode()).hexdigest()


def entry_to_raw(entry: Any, *, feed_url: str, feed_link: str | None, outlet_id: str, language: str | None,
                 now: datetime) -> RawArticle | None:
    """None when the entry has neither a link nor an id (nothing to identify it by)."""
    link = entry.get("link")
    guid = entry.get("id") or entry.get("guid")
    if link:
        url = canonical_url(link, feed_link or (feed_url if feed_url.startswith("http") else None))
        article_id = stable_id("url", url)
    elif guid:
        url = str(guid)
        article_id = stable_id("guid", feed_url, str(guid))
    else:
        return None
    published = _time(entry, "published_parsed", "updated_parsed", "created_parsed")
    author = entry.get("author")
    return RawArticle(
        article_id=article_id, outlet_id=outlet_id, url=url, title=str(entry.get("title") or ""),
        feed_url=feed_url, guid=str(guid) if guid else None, summary=entry.get("summary"), content=_content(entry),
        author=str(author) if author else None, language=language, published=published or now,
        published_is_fallback=published is None, fetched_at=now,
    )
