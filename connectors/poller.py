"""Polling: every feed on its own schedule, politely, and no item marked seen before the sink acknowledged it.

Logs are ``event=name key=value`` lines and never contain feed or article bodies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectors.fulltext import with_full_text
from connectors.http import FetchError, fetch, make_client
from connectors.items import FeedParseError, entry_to_raw, item_hash, parse_feed
from connectors.registry import Feed
from connectors.sinks import Sink
from connectors.state import FeedState, StateStore
from pipeline.model import RawArticle, format_time

__all__ = ["PollConfig", "Summary", "backoff_delay", "feed_interval", "poll_feed", "poll_once", "run_forever"]

log = logging.getLogger("newsrift.connectors")

_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0, "monthly": 2592000.0, "yearly": 31536000.0}


@dataclass(frozen=True)
class PollConfig:
    concurrency: int = 32  # feeds fetched at once, all hosts together
    per_host: int = 2  # politeness: at most this many requests in flight to one host
    default_interval: float = 300.0
    min_interval: float = 60.0
    max_interval: float = 86400.0  # a feed asking for "yearly" is still checked daily
    max_backoff: float = 6 * 3600.0
    max_retry_after: float = 86400.0
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    jitter: float = 0.1  # +-10 %: a thousand feeds added at once do not stay in lock-step
    report_after_failures: int = 10
    publish_retry: float = 30.0


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

    @property
    def processed(self) -> int:
        return self.ok + self.not_modified


def _jitter(seconds: float, cfg: PollConfig) -> float:
    return seconds * random.uniform(1 - cfg.jitter, 1 + cfg.jitter)


def feed_interval(parsed: Any, feed: Feed, cfg: PollConfig) -> float:
    """The operator's interval (outlet ``poll_interval`` or the default), never shorter than what the feed asks for
    (``ttl`` minutes, ``sy:updatePeriod``/``sy:updateFrequency``), clamped to [min_interval, max_interval]."""
    base = feed.poll_interval or cfg.default_interval
    ch = parsed.get("feed", {}) if parsed is not None else {}
    wish = 0.0
    try:
        if ch.get("ttl"):
            wish = float(ch["ttl"]) * 60
        elif ch.get("sy_updateperiod"):
            period = _PERIODS.get(str(ch["sy_updateperiod"]).strip().lower(), 86400.0)
            wish = period / max(1.0, float(ch.get("sy_updatefrequency") or 1))
    except (TypeError, ValueError):
        wish = 0.0
    return min(cfg.max_interval, max(cfg.min_interval, base, wish))


def backoff_delay(failures: int, base: float, cfg: PollConfig, retry_after: float | None = None) -> float:
    """Exponential in the number of consecutive failures, capped; a server's Retry-After is a floor."""
    delay = min(cfg.max_backoff, base * 2 ** min(max(failures - 1, 0), 20))
    if retry_after:
        delay = max(delay, min(retry_after, cfg.max_retry_after))
    return _jitter(delay, cfg)


def _failed(st: FeedState, feed: Feed, cfg: PollConfig, error: str, retry_after: float | None = None,
            permanent: bool = False) -> Summary:
    st.failures += 1
    st.last_error = error[:500]
    base = st.interval or feed.poll_interval or cfg.default_interval
    # Retrying cannot fix a refused address or a 410 Gone: go straight to the slowest rate instead of climbing there.
    delay = _jitter(cfg.max_backoff, cfg) if permanent else backoff_delay(st.failures, base, cfg, retry_after)
    st.next_due = time.time() + delay
    level = logging.ERROR if permanent or st.failures >= cfg.report_after_failures else logging.WARNING
    log.log(level, "event=feed_failed url=%s failures=%d permanent=%s retry_in=%.0f error=%r", feed.url, st.failures,
            permanent, delay, error[:300])
    return Summary(failed=1, errors=[error])


async def _save(store: StateStore, st: FeedState) -> None:
    # The save fsyncs; on a slow disk that would stall every other feed's timeouts if done on the event loop.
    await asyncio.to_thread(store.save, st)


async def _poll(client: httpx.AsyncClient, feed: Feed, store: StateStore, sink: Sink,
                cfg: PollConfig) -> tuple[Summary, FeedState]:
    st = await asyncio.to_thread(store.load, feed.url)
    try:
        result = await fetch(client, feed.url, st.etag, st.last_modified, max_bytes=cfg.max_bytes,
                             total_timeout=cfg.total_timeout)
    except FetchError as e:
        s = _failed(st, feed, cfg, str(e), e.retry_after, e.permanent)
        await _save(store, st)
        return s, st
    if result.status == 304:
        st.failures, st.last_error = 0, None
        st.etag, st.last_modified = result.etag, result.last_modified
        st.last_success = format_time(datetime.now(timezone.utc))
        st.next_due = time.time() + _jitter(st.interval or feed.poll_interval or cfg.default_interval, cfg)
        await _save(store, st)
        log.debug("event=feed_not_modified url=%s", feed.url)
        return Summary(not_modified=1), st
    try:
        # Parsing is CPU work: off the event loop so timeouts of other feeds keep ticking.
        parsed = await asyncio.to_thread(parse_feed, result.body, result.url, result.content_type)
    except FeedParseError as e:
        s = _failed(st, feed, cfg, str(e))
        await _save(store, st)
        return s, st
    if parsed.get("bozo"):
        # Still usable (it has entries or a title): use it, but say what was wrong.
        log.warning("event=feed_bozo url=%s items=%d problem=%r", feed.url, len(parsed.entries),
                    str(parsed.get("bozo_exception"))[:200])
    s = Summary()
    now = datetime.now(timezone.utc)
    channel = parsed.get("feed", {})
    link = channel.get("link") or None
    lang = feed.language or channel.get("language") or None
    todo: list[tuple[RawArticle, str, str, int]] = []  # raw, content hash, new|updated, revision
    batch_ids: set[str] = set()
    for entry in parsed.entries:
        raw = entry_to_raw(entry, feed_url=feed.url, feed_link=link, outlet_id=feed.outlet_id, language=lang, now=now)
        if raw is None or raw.article_id in batch_ids:
            # Nothing identifies it, or the feed lists the same article twice (the first listing wins).
            s.skipped += 1
            continue
        h = item_hash(raw)
        status, revision = st.classify(raw.article_id, h)
        if status == "skipped":
            s.skipped += 1
            continue
        batch_ids.add(raw.article_id)
        todo.append((dataclasses.replace(raw, revision=revision) if revision else raw, h, status, revision))
    if feed.full_text:
        todo = [(await with_full_text(client, raw), h, kind, rev) for raw, h, kind, rev in todo]
    results = await asyncio.to_thread(sink.publish_many, [t[0] for t in todo]) if todo else []
    publish_failed = False
    for (raw, h, kind, revision), err in zip(todo, results, strict=True):
        if err is not None:
            # Not marked seen, and the validators are not stored: the next poll gets a 200 and publishes it again.
            if not publish_failed:
                s.errors.append(str(err))
                log.error("event=publish_failed url=%s article_id=%s error=%r", feed.url, raw.article_id,
                          str(err)[:300])
            publish_failed = True
            continue
        st.mark_seen(raw.article_id, h, revision)
        if kind == "updated":
            s.updated += 1
        else:
            s.new += 1
    if publish_failed:
        s.failed = 1
        st.next_due = time.time() + cfg.publish_retry
    else:
        st.etag, st.last_modified = result.etag, result.last_modified
        st.failures, st.last_error = 0, None
        st.last_success = format_time(now)
        st.interval = feed_interval(parsed, feed, cfg)
        st.next_due = time.time() + _jitter(st.interval, cfg)
        s.ok = 1
    await _save(store, st)
    log.info("event=feed_polled url=%s new=%d updated=%d skipped=%d", feed.url, s.new, s.updated, s.skipped)
    return s, st


async def poll_feed(client: httpx.AsyncClient, feed: Feed, store: StateStore, sink: Sink,
                    cfg: PollConfig | None = None) -> Summary:
    """Poll one feed now, whatever its schedule says; state is loaded and saved around it."""
    return (await _poll(client, feed, store, sink, cfg or PollConfig()))[0]


def _unique(feeds: Sequence[Feed]) -> list[Feed]:
    # One state file per URL: the same feed listed twice must not be polled twice at once (racing on that file).
    seen: dict[str, Feed] = {}
    for f in feeds:
        seen.setdefault(f.url, f)
    return list(seen.values())


class _Limits:
    """A global concurrency cap and a per-host cap, shared by every poll."""

    def __init__(self, cfg: PollConfig) -> None:
        self.cfg = cfg
        self.all = asyncio.Semaphore(cfg.concurrency)
        self.hosts: dict[str, asyncio.Semaphore] = {}

    def guarded(self, client: httpx.AsyncClient, store: StateStore, sink: Sink
                ) -> Callable[[Feed], Coroutine[Any, Any, tuple[Summary, FeedState | None]]]:
        async def one(feed: Feed) -> tuple[Summary, FeedState | None]:
            host = urlsplit(feed.url).hostname or "local"
            host_sem = self.hosts.setdefault(host, asyncio.Semaphore(self.cfg.per_host))
            async with host_sem, self.all:
                try:
                    return await _poll(client, feed, store, sink, self.cfg)
                except Exception as e:  # one feed's surprise must not stop the others
                    log.exception("event=feed_crashed url=%s", feed.url)
                    return Summary(failed=1, errors=[f"{feed.url}: {type(e).__name__}: {e}"]), None

        return one


async def poll_once(feeds: Sequence[Feed], store: StateStore, sink: Sink, cfg: PollConfig | None = None) -> Summary:
    """Poll every feed once (due or not), with a global concurrency cap and a per-host limit."""
    cfg = cfg or PollConfig()
    total = Summary()
    limits = _Limits(cfg)
    async with make_client(cfg.concurrency, cfg.connect_timeout, cfg.read_timeout) as client:
        one = limits.guarded(client, store, sink)
        for s, _ in await asyncio.gather(*(one(f) for f in _unique(feeds))):
            total.merge(s)
    return total


async def run_forever(feeds: Sequence[Feed], store: StateStore, sink: Sink, cfg: PollConfig | None = None,
                      *, tick: float = 1.0, report_every: float = 60.0, stop: asyncio.Event | None = None,
                      drain_timeout: float = 30.0) -> None:
    """Poll each feed whenever it is due, each on its own schedule (a slow feed delays nobody else).

    Only ``next_due`` and the failure count live in memory; everything else is on disk after every poll, so a
    restart resumes where this left off. Every ``report_every`` seconds one cycle line is logged, plus the feeds
    that have failed ``report_after_failures`` times in a row (they keep being retried, at the backoff cap).
    When ``stop`` is set, polls in flight get ``drain_timeout`` seconds to finish before they are cancelled.
    """
    cfg = cfg or PollConfig()
    todo = _unique(feeds)
    due: dict[str, float] = {}
    failures: dict[str, int] = {}
    for f in todo:
        st = store.load(f.url)
        due[f.url], failures[f.url] = st.next_due, st.failures
    running: dict[str, asyncio.Task[tuple[Summary, FeedState | None]]] = {}
    cycle = Summary()
    last_report = time.monotonic()
    limits = _Limits(cfg)
    async with make_client(cfg.concurrency, cfg.connect_timeout, cfg.read_timeout) as client:
        one = limits.guarded(client, store, sink)
        try:
            while stop is None or not stop.is_set():
                now = time.time()
                for f in todo:
                    if f.url not in running and due[f.url] <= now:
                        running[f.url] = asyncio.create_task(one(f))
                for url, task in list(running.items()):
                    if task.done():
                        del running[url]
                        s, after = task.result()
                        cycle.merge(s)
                        if after is not None:
                            due[url], failures[url] = after.next_due, after.failures
                        else:  # crashed before state was saved: try again after the default interval
                            due[url] = now + _jitter(cfg.default_interval, cfg)
                if time.monotonic() - last_report >= report_every:
                    log.info("event=poll_cycle feeds=%d in_flight=%d %s", len(todo), len(running),
                             cycle.line().replace("feeds ", "").replace("items ", ""))
                    stuck = sorted(u for u, n in failures.items() if n >= cfg.report_after_failures)
                    if stuck:
                        log.error("event=feeds_failing count=%d urls=%s", len(stuck), ",".join(stuck[:20]))
                    cycle, last_report = Summary(), time.monotonic()
                if stop is not None:
                    try:
                        await asyncio.wait_for(stop.wait(), tick)
                    except TimeoutError:
                        pass
                else:
                    await asyncio.sleep(tick)
        finally:
            if running:
                # Let polls in flight finish first: one cancelled between the sink's acknowledgement and its state
                # save would re-publish its items after a restart (harmless by key, but avoidable).
                await asyncio.wait(running.values(), timeout=drain_timeout)
            for task in running.values():
                task.cancel()
            if running:
                await asyncio.gather(*running.values(), return_exceptions=True)
