"""Polling: every feed on its own schedule, politely, and no item marked seen before the sink acknowledged it.

Logs are ``event=name key=value`` lines and never contain feed or article bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import httpx

from newsrift.connectors.fulltext import with_full_text
from newsrift.connectors.http import USER_AGENT, FetchError, FetchResult, fetch, make_client
from newsrift.connectors.items import FeedParseError, entry_to_raw, item_hash, parse_feed
from newsrift.connectors.notices import FeedNotice, Notify
from newsrift.connectors.politeness import HostLimiter
from newsrift.connectors.registry import Feed, load_registry
from newsrift.connectors.robots import ROBOTS_TTL, UNREACHABLE_WAIT, Robots, RobotsDenied
from newsrift.connectors.sinks import ArticleSink
from newsrift.connectors.state import FeedState, StateStore
from newsrift.model import RawArticle, format_time

__all__ = ["PollConfig", "RegistryWatcher", "Summary", "backoff_delay", "feed_interval", "poll_feed", "poll_once",
           "run_forever"]

log = logging.getLogger("newsrift.connectors")

_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0, "monthly": 2592000.0, "yearly": 31536000.0}


@dataclass(frozen=True)
class PollConfig:
    concurrency: int = 32  # feeds fetched at once, all hosts together
    per_host: int = 2  # politeness: at most this many requests in flight to one host
    per_host_interval: float = 1.0  # politeness: at least this many seconds between two request starts to one host
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
    user_agent: str = USER_AGENT  # sent with every request, and the agent robots.txt rules are matched for
    max_crawl_delay: float = 60.0  # a robots.txt Crawl-delay raises a host's interval up to this many seconds
    robots_ttl: float = ROBOTS_TTL  # how long a fetched robots.txt is used before it is fetched again
    robots_wait: float = UNREACHABLE_WAIT  # an unreachable robots.txt (429, 5xx, timeout) is asked again after this
    dead_after: float = 7 * 86400.0  # failing this long without a success: the feed is dead (reported once)
    dead_retry: float = 86400.0  # a dead feed is tried this often


@dataclass
class Summary:
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    new: int = 0
    updated: int = 0
    skipped: int = 0
    disallowed: int = 0  # feeds skipped because their robots.txt disallows them
    errors: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # one line for each feed that a 301/308 moved in this run
    notices: list[FeedNotice] = field(default_factory=list)  # feeds found dead or revived in this run

    def line(self) -> str:
        # " moved=N" etc. only when it happened, so the line of an ordinary run reads as it always did.
        dead = sum(n.kind == "feed_dead" for n in self.notices)
        return (f"feeds ok={self.ok} not_modified={self.not_modified} failed={self.failed} "
                f"items new={self.new} updated={self.updated} skipped={self.skipped}"
                + (f" moved={len(self.moved)}" if self.moved else "")
                + (f" disallowed={self.disallowed}" if self.disallowed else "")
                + (f" dead={dead}" if dead else ""))

    def merge(self, other: Summary) -> None:
        for f in ("ok", "not_modified", "failed", "new", "updated", "skipped", "disallowed"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        self.errors += other.errors
        self.moved += other.moved
        self.notices += other.notices

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


def _iso(unix: float) -> str:
    return format_time(datetime.fromtimestamp(unix, timezone.utc)) or "-"


def _notice(kind: Literal["feed_dead", "feed_revived"], st: FeedState, feed: Feed, since: float,
            now: float) -> FeedNotice:
    return FeedNotice(kind, feed.url, feed.outlet_id, _iso(since), _iso(now), st.failures, st.requests,
                      st.request_failures, st.last_error)


def _failed(st: FeedState, feed: Feed, cfg: PollConfig, error: str, retry_after: float | None = None,
            permanent: bool = False) -> Summary:
    now = time.time()
    st.failures += 1
    st.last_error = error[:500]
    if st.failing_since is None:
        st.failing_since = now
    base = st.interval or feed.poll_interval or cfg.default_interval
    # Retrying cannot fix a refused address or a 410 Gone: go straight to the slowest rate instead of climbing there.
    delay = _jitter(cfg.max_backoff, cfg) if permanent else backoff_delay(st.failures, base, cfg, retry_after)
    s = Summary(failed=1, errors=[error])
    if st.dead_since is None and now - st.failing_since >= cfg.dead_after:
        st.dead_since = now
        # Once: the state on disk says it is dead, so neither the next poll nor a restart says it again.
        log.error("event=feed_dead url=%s outlet=%s failing_since=%s failures=%d requests=%d request_failures=%d "
                  "error=%r", feed.url, feed.outlet_id, _iso(st.failing_since), st.failures, st.requests,
                  st.request_failures, error[:300])
        s.notices.append(_notice("feed_dead", st, feed, st.failing_since, now))
    if st.dead_since is not None:
        delay = max(delay, _jitter(cfg.dead_retry, cfg))  # tried daily, no more
    st.next_due = now + delay
    level = logging.ERROR if permanent or st.failures >= cfg.report_after_failures else logging.WARNING
    log.log(level, "event=feed_failed url=%s failures=%d permanent=%s dead=%s retry_in=%.0f error=%r", feed.url,
            st.failures, permanent, st.dead_since is not None, delay, error[:300])
    return s


def _alive(st: FeedState, feed: Feed, s: Summary) -> None:
    """The feed answered (a 304, or a 200 that parses as a feed): no longer failing, and no longer dead."""
    now = time.time()
    if st.dead_since is not None:
        log.warning("event=feed_revived url=%s outlet=%s dead_since=%s", feed.url, feed.outlet_id,
                    _iso(st.dead_since))
        s.notices.append(_notice("feed_revived", st, feed, st.dead_since, now))
    st.failing_since = st.dead_since = None


async def _save(store: StateStore, st: FeedState, turn: _Turn | None = None) -> None:
    if turn is not None:
        turn.charge(st)
    # The save fsyncs; on a slow disk that would stall every other feed's timeouts if done on the event loop.
    await asyncio.to_thread(store.save, st)


class _Limits:
    """What every poll of one run shares: a global cap on feeds being worked on at once, per host a cap on requests
    in flight and a minimum interval between their starts (robots.txt, feed and full-text requests alike), and the
    robots.txt rules of every origin met (which can raise a host's interval: Crawl-delay)."""

    def __init__(self, cfg: PollConfig, notify: Notify | None = None) -> None:
        self.cfg = cfg
        self.all = asyncio.Semaphore(cfg.concurrency)
        self.hosts = HostLimiter(cfg.per_host, cfg.per_host_interval)
        self.robots = Robots(cfg.user_agent, self.hosts, ttl=cfg.robots_ttl, wait=cfg.robots_wait,
                             max_delay=cfg.max_crawl_delay)
        self.notify = notify
        self.fetch_urls: dict[str, str] = {}  # registry URL -> where it is fetched (differs once a 301/308 moved it)

    async def fetch_url(self, feed: Feed, store: StateStore) -> str:
        url = self.fetch_urls.get(feed.url)
        if url is None:
            # Read before any slot is taken, so that the slot is the right host's; the state itself is dropped
            # again at once (a poll keeps its state only while it holds a slot: polls still waiting hold none).
            url = self.fetch_urls[feed.url] = (await asyncio.to_thread(store.load, feed.url)).fetch_url
        return url

    def guarded(self, client: httpx.AsyncClient, store: StateStore, sink: ArticleSink
                ) -> Callable[[Feed], Coroutine[Any, Any, tuple[Summary, FeedState | None]]]:
        async def one(feed: Feed) -> tuple[Summary, FeedState | None]:
            turn = _Turn(self, client)
            try:
                result = await _poll(client, feed, store, sink, self.cfg, turn)
            except Exception as e:  # one feed's surprise must not stop the others
                log.exception("event=feed_crashed url=%s", feed.url)
                return Summary(failed=1, errors=[f"{feed.url}: {type(e).__name__}: {e}"]), None
            finally:
                turn.release()
            await self.deliver(result[0].notices)  # holding no slot: a slow sink delays no other feed
            return result

        return one

    async def deliver(self, notices: Sequence[FeedNotice]) -> None:
        if self.notify is None:
            return
        for n in notices:
            try:
                await asyncio.to_thread(self.notify, n)
            except Exception as e:  # a notifier's surprise must not cost the poll
                log.error("event=feed_notice_failed kind=%s url=%s error=%r", n.kind, n.url,
                          f"{type(e).__name__}: {e}"[:300])


class _Turn:
    """One poll's hold on the limits: the global slot while it works on its feed, a host slot around each request.

    The order is always host slot first, then the global slot. A poll holding the global slot lets go of it before
    it waits for a host (the feed's, or an article page's for full text) and takes it back once that host's slot is
    its own. So a busy host, or one whose minimum interval has not passed, never sits on global slots that feeds of
    other hosts need; and there is no deadlock: a poll holding a host slot waits only for the global one, and the
    polls holding that wait for no host.
    """

    def __init__(self, limits: _Limits, client: httpx.AsyncClient) -> None:
        self.limits = limits
        self.client = client
        self.holding = False
        self.requests = 0  # requests made for this poll, robots.txt included
        self.request_failures = 0

    @contextlib.asynccontextmanager
    async def request(self, url: str) -> AsyncIterator[None]:
        """Around one request to ``url``: its origin's robots.txt first (fetched through ``_slot`` when not cached;
        ``RobotsDenied`` when it disallows ``url``, ``FetchError`` while it is unreachable), then the host's slot."""
        self.release()  # no global slot held while this waits for another poll's robots.txt fetch of the origin
        await self.limits.robots.check(self.client, url, self._slot)
        async with self._slot(url):
            yield

    @contextlib.asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        self.release()
        async with self.limits.hosts.slot(url):
            await self.limits.all.acquire()
            self.holding = True
            self.requests += 1
            try:
                yield  # the request; when it is done the host slot goes and the global slot stays with the poll
            except BaseException:
                self.request_failures += 1
                raise

    def charge(self, st: FeedState) -> None:
        """Add this poll's requests to the feed's totals (once: the counts start again from 0)."""
        st.requests += self.requests
        st.request_failures += self.request_failures
        self.requests = self.request_failures = 0

    def release(self) -> None:
        if self.holding:
            self.holding = False
            self.limits.all.release()


async def _fetch_feed(client: httpx.AsyncClient, feed: Feed, store: StateStore, cfg: PollConfig,
                      turn: _Turn) -> tuple[FeedState, FetchResult | FetchError]:
    target = await turn.limits.fetch_url(feed, store)
    st: FeedState | None = None
    result: FetchResult | FetchError
    try:
        async with turn.request(target):  # robots.txt may refuse it (RobotsDenied) before anything is sent
            st = await asyncio.to_thread(store.load, feed.url)
            result = await fetch(client, target, st.etag, st.last_modified, max_bytes=cfg.max_bytes,
                                 total_timeout=cfg.total_timeout, check_hop=turn.limits.robots.cached_denial)
    except FetchError as e:
        result = e
    if st is None:
        st = await asyncio.to_thread(store.load, feed.url)
    return st, result


async def _disallowed(store: StateStore, st: FeedState, feed: Feed, cfg: PollConfig, turn: _Turn,
                      denied: RobotsDenied) -> tuple[Summary, FeedState]:
    """Skipped, not failed: said once (when it becomes disallowed), shown by ``feeds list``, looked at again on the
    feed's schedule (a cached robots.txt costs no request)."""
    if st.robots != "disallowed":
        log.warning("event=robots_disallowed url=%s fetch_url=%s robots=%s agent=%r", feed.url, denied.url,
                    denied.robots, cfg.user_agent)
    st.robots = "disallowed"
    st.next_due = time.time() + _jitter(st.interval or feed.poll_interval or cfg.default_interval, cfg)
    await _save(store, st, turn)
    return Summary(disallowed=1), st


def _follow_move(st: FeedState, feed: Feed, result: FetchResult, limits: _Limits) -> list[str]:
    """After a successful fetch that began with a permanent redirect (301/308), fetch its target directly from now
    on. A temporary redirect (302/303/307) changes nothing. The state stays under the registry URL."""
    if result.moved_to is None:
        return []
    old = st.fetch_url
    st.moved_to = None if result.moved_to == feed.url else result.moved_to
    limits.fetch_urls[feed.url] = st.fetch_url
    if st.fetch_url == old:
        return []
    log.warning("event=feed_moved url=%s from=%s to=%s", feed.url, old, st.fetch_url)
    return [f"{feed.url}: moved permanently from {old} to {st.fetch_url}"]


async def _poll(client: httpx.AsyncClient, feed: Feed, store: StateStore, sink: ArticleSink,
                cfg: PollConfig, turn: _Turn) -> tuple[Summary, FeedState]:
    st, result = await _fetch_feed(client, feed, store, cfg, turn)
    if isinstance(result, RobotsDenied):
        return await _disallowed(store, st, feed, cfg, turn, result)
    if isinstance(result, FetchError):
        s = _failed(st, feed, cfg, str(result), result.retry_after, result.permanent)
        await _save(store, st, turn)
        return s, st
    if st.robots is not None:
        log.info("event=robots_allowed url=%s", feed.url)
        st.robots = None
    if result.status == 304:
        s = Summary(not_modified=1, moved=_follow_move(st, feed, result, turn.limits))
        _alive(st, feed, s)
        st.failures, st.last_error = 0, None
        st.etag, st.last_modified = result.etag, result.last_modified
        st.last_success = format_time(datetime.now(timezone.utc))
        st.next_due = time.time() + _jitter(st.interval or feed.poll_interval or cfg.default_interval, cfg)
        await _save(store, st, turn)
        log.debug("event=feed_not_modified url=%s", feed.url)
        return s, st
    try:
        # Parsing is CPU work: off the event loop so timeouts of other feeds keep ticking.
        parsed = await asyncio.to_thread(parse_feed, result.body, result.url, result.content_type)
    except FeedParseError as e:
        # Not followed either: a feed "moved" to a page that is no feed (a parked domain, a home page) stays put.
        s = _failed(st, feed, cfg, str(e))
        await _save(store, st, turn)
        return s, st
    if parsed.get("bozo"):
        # Still usable (it has entries or a title): use it, but say what was wrong.
        log.warning("event=feed_bozo url=%s items=%d problem=%r", feed.url, len(parsed.entries),
                    str(parsed.get("bozo_exception"))[:200])
    s = Summary(moved=_follow_move(st, feed, result, turn.limits))
    _alive(st, feed, s)
    now = datetime.now(timezone.utc)
    channel = parsed.get("feed", {})
    link = channel.get("link") or None
    lang = feed.language or channel.get("language") or None
    interval = feed_interval(parsed, feed, cfg)
    todo: list[tuple[RawArticle, str, str, int]] = []  # raw, content hash, new|updated, revision
    batch_ids: set[str] = set()
    for entry in parsed.entries:
        # feed_url is the registry URL, not where the feed was fetched: a move changes neither ids nor feed_url.
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
    etag, last_modified = result.etag, result.last_modified
    del parsed, result  # up to 10 MB: not kept while full-text pages wait for their hosts
    if feed.full_text:
        # Each page through its host's slot, like any feed request (in-flight cap and minimum interval).
        todo = [(await with_full_text(client, raw, turn.request), h, kind, rev) for raw, h, kind, rev in todo]
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
        st.etag, st.last_modified = etag, last_modified
        st.failures, st.last_error = 0, None
        st.last_success = format_time(now)
        st.interval = interval
        st.next_due = time.time() + _jitter(st.interval, cfg)
        s.ok = 1
    await _save(store, st, turn)
    log.info("event=feed_polled url=%s new=%d updated=%d skipped=%d", feed.url, s.new, s.updated, s.skipped)
    return s, st


async def poll_feed(client: httpx.AsyncClient, feed: Feed, store: StateStore, sink: ArticleSink,
                    cfg: PollConfig | None = None, notify: Notify | None = None) -> Summary:
    """Poll one feed now, whatever its schedule says; state is loaded and saved around it."""
    turn = _Turn(_Limits(cfg or PollConfig(), notify), client)
    try:
        s = (await _poll(client, feed, store, sink, turn.limits.cfg, turn))[0]
    finally:
        turn.release()
    await turn.limits.deliver(s.notices)
    return s


def _unique(feeds: Sequence[Feed]) -> list[Feed]:
    # One state file per URL: the same feed listed twice must not be polled twice at once (racing on that file).
    seen: dict[str, Feed] = {}
    for f in feeds:
        seen.setdefault(f.url, f)
    return list(seen.values())


async def poll_once(feeds: Sequence[Feed], store: StateStore, sink: ArticleSink, cfg: PollConfig | None = None,
                    notify: Notify | None = None) -> Summary:
    """Poll every feed once (due or not), with a global concurrency cap and per-host politeness (robots.txt,
    requests in flight, minimum interval between request starts). ``notify`` gets each feed found dead or revived
    (in a thread)."""
    cfg = cfg or PollConfig()
    total = Summary()
    limits = _Limits(cfg, notify)
    async with make_client(cfg.concurrency, cfg.connect_timeout, cfg.read_timeout, cfg.user_agent) as client:
        one = limits.guarded(client, store, sink)
        for s, _ in await asyncio.gather(*(one(f) for f in _unique(feeds))):
            total.merge(s)
    return total


_Signature = tuple[int, int, int] | None


class RegistryWatcher:
    """The registry's feeds again, but only when the file changed: a callable for ``run_forever(reload=...)``.

    Each call is one ``stat`` (mtime, size, inode; ``save_registry`` replaces the file, so the inode changes too);
    only when that differs from the last call's is the file read. It returns the new feed list, or ``None`` when
    nothing changed or the new file cannot be used: a TOML or registry error (a half-written file, say), a missing
    file, or a registry without feeds (what an editor's truncate-then-write looks like mid-way; the CLI refuses to
    start without feeds too). That is logged once as ``event=registry_reload_failed`` and the last good list stays;
    the next change of the file is tried again. Create it *before* reading the registry the first time, so that a
    change in between is not missed.
    """

    def __init__(self, path: Path, load: Callable[[Path], Sequence[Feed]] | None = None) -> None:
        self.path = path
        self.load = load or (lambda p: load_registry(p).feeds())
        self.signature = self._stat()

    def _stat(self) -> _Signature:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def __call__(self) -> list[Feed] | None:
        signature = self._stat()
        if signature == self.signature:
            return None
        self.signature = signature
        try:
            feeds = list(self.load(self.path))
            if not feeds:
                raise ValueError("no feeds in it (a half-written file?); keeping the last list")
        except Exception as e:  # any reason at all: a running poller must not stop over its registry
            log.warning("event=registry_reload_failed path=%s error=%r", self.path, str(e)[:300])
            return None
        return feeds


async def run_forever(feeds: Sequence[Feed], store: StateStore, sink: ArticleSink, cfg: PollConfig | None = None,
                      *, tick: float = 1.0, report_every: float = 60.0, stop: asyncio.Event | None = None,
                      drain_timeout: float = 30.0, reload: Callable[[], Sequence[Feed] | None] | None = None,
                      reload_every: float = 5.0, notify: Notify | None = None) -> None:
    """Poll each feed whenever it is due, each on its own schedule (a slow feed delays nobody else).

    Only ``next_due`` and the failure count live in memory; everything else is on disk after every poll, so a
    restart resumes where this left off. Every ``report_every`` seconds one cycle line is logged, plus the feeds
    that have failed ``report_after_failures`` times in a row (they keep being retried, at the backoff cap).
    When ``stop`` is set, polls in flight get ``drain_timeout`` seconds to finish before they are cancelled.

    ``reload`` (a ``RegistryWatcher``, say) is called at most every ``reload_every`` seconds, off the event loop; when
    it returns a list, that is the feed list from then on: new feeds are scheduled from their saved state, removed
    ones are not polled again (a poll of one already in flight finishes, publish and state save included), and a
    feed whose settings changed is polled with the new ones. ``None`` (or an exception) keeps the current list.

    ``notify`` gets each feed found dead or revived (in a thread, once per change: the state remembers it).
    """
    cfg = cfg or PollConfig()
    todo: dict[str, Feed] = {}
    due: dict[str, float] = {}
    failures: dict[str, int] = {}
    limits = _Limits(cfg, notify)
    dead: set[str] = set()

    def _mark_dead(url: str, st: FeedState) -> None:
        if st.dead_since is None:
            dead.discard(url)
        else:
            dead.add(url)

    def schedule(f: Feed, st: FeedState) -> None:
        todo[f.url] = f
        due[f.url], failures[f.url] = st.next_due, st.failures
        _mark_dead(f.url, st)
        limits.fetch_urls[f.url] = st.fetch_url

    for f in _unique(feeds):
        schedule(f, store.load(f.url))

    async def apply(new_feeds: Sequence[Feed]) -> None:
        new = {f.url: f for f in _unique(new_feeds)}
        removed = [u for u in todo if u not in new]
        for u in removed:
            # A poll in flight keeps running; its result is merged into the cycle but schedules nothing.
            del todo[u], due[u], failures[u]
            dead.discard(u)
            limits.fetch_urls.pop(u, None)
        added = [f for u, f in new.items() if u not in todo]
        # Their saved state, as at start: a feed that was polled before (by an earlier run, or before it was
        # removed) keeps its next due time, failure count and moved-to address.
        states = await asyncio.to_thread(lambda: [store.load(a.url) for a in added])
        for f, st in zip(added, states, strict=True):
            schedule(f, st)
        changed = 0
        for u, f in new.items():
            if todo[u] != f:  # same URL, other outlet, interval, language or full text: used from its next poll
                todo[u] = f
                changed += 1
        log.info("event=registry_reloaded added=%d removed=%d changed=%d feeds=%d", len(added), len(removed),
                 changed, len(todo))

    running: dict[str, asyncio.Task[tuple[Summary, FeedState | None]]] = {}
    cycle = Summary()
    last_report = next_reload = time.monotonic()
    async with make_client(cfg.concurrency, cfg.connect_timeout, cfg.read_timeout, cfg.user_agent) as client:
        one = limits.guarded(client, store, sink)
        try:
            while stop is None or not stop.is_set():
                if reload is not None and time.monotonic() >= next_reload:
                    next_reload = time.monotonic() + reload_every
                    try:
                        # A stat, and a file read and parse only when it changed: in a thread all the same.
                        new_feeds = await asyncio.to_thread(reload)
                    except Exception as e:  # a custom reload's surprise: keep polling the last list
                        log.warning("event=registry_reload_failed path=%s error=%r",
                                    getattr(reload, "path", "-"), f"{type(e).__name__}: {e}"[:300])
                        new_feeds = None
                    if new_feeds is not None:
                        await apply(new_feeds)
                now = time.time()
                for f in todo.values():
                    if f.url not in running and due[f.url] <= now:
                        running[f.url] = asyncio.create_task(one(f))
                for url, task in list(running.items()):
                    if task.done():
                        del running[url]
                        s, after = task.result()
                        cycle.merge(s)
                        if url not in todo:  # removed from the registry while it was being polled
                            continue
                        if after is not None:
                            due[url], failures[url] = after.next_due, after.failures
                            _mark_dead(url, after)
                        else:  # crashed before state was saved: try again after the default interval
                            due[url] = now + _jitter(cfg.default_interval, cfg)
                if time.monotonic() - last_report >= report_every:
                    log.info("event=poll_cycle feeds=%d in_flight=%d %s", len(todo), len(running),
                             cycle.line().replace("feeds ", "").replace("items ", ""))
                    # Dead feeds were reported once (event=feed_dead): not again every minute.
                    stuck = sorted(u for u, n in failures.items() if n >= cfg.report_after_failures and u not in dead)
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
