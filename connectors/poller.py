"""Polling: every feed on its own schedule, politely, and no item marked seen before the sink acknowledged it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlsplit

import feedparser
import httpx

from connectors.fetch import FetchError, fetch
from connectors.items import entry_to_raw, item_hash
from connectors.registry import Feed
from connectors.sinks import PublishError, Sink
from connectors.state import FeedState, StateStore
from pipeline.model import format_time

__all__ = ["PollConfig", "Summary", "poll_feed", "poll_once", "run_forever"]

log = logging.getLogger("newsrift.connectors")


@dataclass(frozen=True)
class PollConfig:
    concurrency: int = 32
    per_host: int = 2
    default_interval: float = 300.0
    max_backoff: float = 6 * 3600.0
    connect_timeout: float = 5.0
    total_timeout: float = 30.0
    report_after_failures: int = 10


@dataclass
class Summary:
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"feeds ok={self.ok} not_modified={self.not_modified} failed={self.failed} "
                f"items new={self.new} updated={self.updated} skipped={self.skipped}")

    def merge(self, other: Summary) -> None:
        for f in ("ok", "not_modified", "failed", "new", "updated", "skipped"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.errors += other.errors


def _interval(parsed: feedparser.FeedParserDict, feed: Feed, cfg: PollConfig) -> float:
    """The feed's own wish (ttl minutes, sy:updatePeriod/Frequency), else the outlet's, else the default."""
    ch = parsed.get("feed", {})
    try:
        if ch.get("ttl"):
            return max(60.0, float(ch["ttl"]) * 60)
        period = ch.get("sy_updateperiod")
        if period:
            base = {"hourly": 3600, "daily": 86400, "weekly": 604800, "monthly": 2592000, "yearly": 31536000}
            return max(60.0, base.get(period.strip().lower(), 3600) / float(ch.get("sy_updatefrequency") or 1))
    except (TypeError, ValueError):
        pass
    return feed.poll_interval or cfg.default_interval


def _backoff(failures: int, cfg: PollConfig, retry_after: float | None) -> float:
    delay = min(cfg.max_backoff, cfg.default_interval * 2 ** min(failures, 12))
    if retry_after:
        delay = max(delay, retry_after)
    return delay * random.uniform(0.9, 1.1)


async def poll_feed(client: httpx.AsyncClient, feed: Feed, store: StateStore, sink: Sink, cfg: PollConfig) -> Summary:
    s = Summary()
    st = store.load(feed.url)
    now_wall = time.time()
    try:
        result = await fetch(client, feed.url, st.etag, st.last_modified)
    except FetchError as e:
        st.failures += 1
        st.last_error = str(e)
        st.next_due = now_wall + _backoff(st.failures, cfg, e.retry_after)
        store.save(st)
        s.failed = 1
        s.errors.append(str(e))
        level = logging.ERROR if st.failures >= cfg.report_after_failures else logging.WARNING
        log.log(level, "event=feed_failed url=%s failures=%d error=%r", feed.url, st.failures, str(e)[:300])
        return s
    if result.status == 304:
        st.failures, st.last_error = 0, None
        st.next_due = now_wall + (st.interval or feed.poll_interval or cfg.default_interval) * random.uniform(0.9, 1.1)
        store.save(st)
        s.not_modified = 1
        return s
    if result.url.startswith("file://"):
        # A local file has no HTTP headers; relative links resolve against the channel's own link instead.
        headers = {"content-type": "application/xml"}
    else:
        headers = {"content-location": result.url}
    parsed = feedparser.parse(result.body, response_headers=headers)
    if parsed.get("bozo") and not parsed.entries:
        st.failures += 1
        st.last_error = f"not a feed: {parsed.get('bozo_exception')!r}"
        st.next_due = now_wall + _backoff(st.failures, cfg, None)
        store.save(st)
        s.failed = 1
        s.errors.append(f"{feed.url}: {st.last_error}")
        log.warning("event=feed_unparsable url=%s error=%r", feed.url, st.last_error[:300])
        return s
    if parsed.get("bozo"):
        log.info("event=feed_bozo url=%s problem=%r items=%d", feed.url,
                 str(parsed.get("bozo_exception"))[:200], len(parsed.entries))
    now = datetime.now(timezone.utc)
    link = parsed.get("feed", {}).get("link")
    lang = feed.language or (parsed.get("feed", {}).get("language") or None)
    failed_publish = False
    for entry in parsed.entries:
        raw = entry_to_raw(entry, feed_url=feed.url, feed_link=link, outlet_id=feed.outlet_id, language=lang, now=now)
        if raw is None:
            s.skipped += 1
            continue
        h = item_hash(raw)
        seen = st.seen.get(raw.article_id)
        if seen is not None and seen[0] == h:
            s.skipped += 1
            continue
        revision = 0 if seen is None else int(seen[1]) + 1
        if revision:
            raw = dataclasses.replace(raw, revision=revision)
        try:
            await asyncio.to_thread(sink.publish, raw)
        except PublishError as e:
            # Not marked seen: the next poll publishes it again.
            failed_publish = True
            s.errors.append(str(e))
            log.error("event=publish_failed url=%s article_id=%s error=%r", feed.url, raw.article_id, str(e)[:300])
            break
        st.seen[raw.article_id] = [h, revision]
        if revision:
            s.updated += 1
        else:
            s.new += 1
    if failed_publish:
        st.next_due = now_wall + 30.0
        s.failed = 1
    else:
        st.etag, st.last_modified = result.etag, result.last_modified
        st.failures, st.last_error = 0, None
        st.last_success = format_time(now)
        st.interval = _interval(parsed, feed, cfg)
        st.next_due = now_wall + st.interval * random.uniform(0.9, 1.1)
        s.ok = 1
    # Bounded memory for long-lived feeds: keep the most recent ids (dicts keep insertion order).
    if len(st.seen) > 5000:
        st.seen = dict(list(st.seen.items())[-5000:])
    store.save(st)
    log.info("event=feed_polled url=%s new=%d updated=%d skipped=%d", feed.url, s.new, s.updated, s.skipped)
    return s


def _client(cfg: PollConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(cfg.total_timeout, connect=cfg.connect_timeout),
        follow_redirects=False,  # redirects are followed by fetch(), which re-checks every hop
        limits=httpx.Limits(max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency),
    )


async def poll_once(feeds: Sequence[Feed], store: StateStore, sink: Sink, cfg: PollConfig | None = None) -> Summary:
    """Poll every feed once (due or not), with a global concurrency cap and a per-host limit."""
    cfg = cfg or PollConfig()
    total = Summary()
    global_sem = asyncio.Semaphore(cfg.concurrency)
    hosts: dict[str, asyncio.Semaphore] = {}
    async with _client(cfg) as client:

        async def one(feed: Feed) -> Summary:
            host = urlsplit(feed.url).hostname or "local"
            host_sem = hosts.setdefault(host, asyncio.Semaphore(cfg.per_host))
            async with global_sem, host_sem:
                try:
                    return await poll_feed(client, feed, store, sink, cfg)
                except Exception as e:  # one feed's surprise must not stop the others
                    log.exception("event=feed_crashed url=%s", feed.url)
                    return Summary(failed=1, errors=[f"{feed.url}: {type(e).__name__}: {e}"])

        for res in await asyncio.gather(*(one(f) for f in feeds)):
            total.merge(res)
    return total


async def run_forever(feeds: Sequence[Feed], store: StateStore, sink: Sink, cfg: PollConfig | None = None,
                      tick: float = 5.0) -> None:
    """Poll each feed when it is due; failing feeds back off exponentially (and honour Retry-After)."""
    cfg = cfg or PollConfig()
    while True:
        now = time.time()
        due = [f for f in feeds if store.load(f.url).next_due <= now]
        if due:
            summary = await poll_once(due, store, sink, cfg)
            log.info("event=poll_cycle due=%d %s", len(due), summary.line().replace(" items ", " "))
            stuck = [f.url for f in feeds if store.load(f.url).failures >= cfg.report_after_failures]
            if stuck:
                log.error("event=feeds_failing count=%d urls=%s", len(stuck), ",".join(stuck[:20]))
        await asyncio.sleep(tick)


def state_of(store: StateStore, url: str) -> FeedState:
    return store.load(url)
