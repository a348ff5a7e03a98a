"""Full article text for outlets whose feeds carry only a teaser (``full_text = true`` in the registry).

The page is fetched with the same safety rules as feeds (``newsrift.connectors.http.fetch``), inside the same per-host
slot as feed requests when the caller passes one (the poller always does: article pages count against their host's
in-flight cap and minimum interval; the poller's slot also checks the page's robots.txt first and refuses a
disallowed page with ``RobotsDenied``), and its main text extracted with trafilatura. Any failure keeps the feed's own
content: full text improves an item, it never loses one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

import httpx

from newsrift.connectors.http import FetchError, fetch
from newsrift.connectors.politeness import Slot
from newsrift.connectors.robots import RobotsDenied
from newsrift.model import RawArticle

__all__ = ["extract_main_text", "with_full_text"]

log = logging.getLogger("newsrift.connectors")
MAX_PAGE_BYTES = 5 * 1024 * 1024


def extract_main_text(html: bytes | str, url: str | None = None) -> str | None:
    """The page's main text (paragraphs separated by newlines), or None when nothing article-like is found."""
    import trafilatura

    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False, favor_precision=True)
    return text.strip() if text and text.strip() else None


async def with_full_text(client: httpx.AsyncClient, raw: RawArticle, slot: Slot | None = None) -> RawArticle:
    """``raw`` with the page's main text as content when that is longer; ``slot(url)`` is held around the request
    only (e.g. ``HostLimiter.slot``), not around the extraction."""
    if not raw.url.startswith(("http://", "https://")):
        return raw
    try:
        async with slot(raw.url) if slot is not None else contextlib.nullcontext():
            page = await fetch(client, raw.url, max_bytes=MAX_PAGE_BYTES, total_timeout=30.0)
        text = await asyncio.to_thread(extract_main_text, page.body, raw.url)
    except RobotsDenied as e:
        log.info("event=full_text_skipped url=%s reason=robots_disallowed robots=%s", raw.url, e.robots)
        return raw
    except FetchError as e:
        log.warning("event=full_text_failed url=%s error=%r", raw.url, str(e)[:300])
        return raw
    except Exception as e:  # an extractor bug on one odd page must not cost the feed's item
        log.warning("event=full_text_failed url=%s error=%r", raw.url, f"{type(e).__name__}: {e}"[:300])
        return raw
    current = raw.content or raw.summary or ""
    if text is None or len(text) <= len(current):
        return raw
    return dataclasses.replace(raw, content=text)
