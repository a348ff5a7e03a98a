"""robots.txt: read for a host before its first feed or page request, cached, and honoured for both.

Parsing and matching are the standard library's ``urllib.robotparser``. The file is fetched through the same safe
client as feeds (address checks, redirects re-checked, at most ``MAX_ROBOTS_BYTES`` read: a longer file is cut
there) and inside the host's politeness slot, so it counts against the host's in-flight cap and interval like any
request. What an answer means follows RFC 9309:

- 200: the rules apply, for ``ROBOTS_TTL`` (a day) before the file is fetched again;
- 4xx (other than 429): there are no rules, everything is allowed (for as long);
- 429, 5xx, a timeout, a connection that fails: unreachable. Requests to that origin wait (they fail with a
  ``FetchError`` that asks for a retry) and the file is asked for again after ``wait`` seconds, or the server's
  ``Retry-After`` when that is longer.

``Crawl-delay`` (or ``Request-rate``) for our agent raises the host's interval between request starts, up to
``max_delay``. Rules are per origin (scheme, host and port), intervals per host.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from newsrift.connectors.http import FetchError, fetch
from newsrift.connectors.politeness import HostLimiter, Slot

__all__ = ["MAX_ROBOTS_BYTES", "ROBOTS_TTL", "Robots", "RobotsDenied", "origin_of", "robots_url"]

log = logging.getLogger("newsrift.connectors")

MAX_ROBOTS_BYTES = 512 * 1024  # RFC 9309: crawlers must parse at least the first 500 KiB
ROBOTS_TTL = 86400.0  # RFC 9309: a cached copy should not be used for more than a day
UNREACHABLE_WAIT = 600.0
MAX_UNREACHABLE_WAIT = 6 * 3600.0
_PRUNE_AT = 4096


class RobotsDenied(FetchError):
    """robots.txt disallows this URL for our agent: it is skipped, not failed."""

    def __init__(self, url: str, robots: str) -> None:
        super().__init__(f"{url}: disallowed by {robots}")
        self.url = url
        self.robots = robots


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL (lower-case, no user info), or None."""
    if not url.startswith(("http://", "https://")):
        return None
    try:
        p = urlsplit(url)
        host, port = p.hostname, p.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[p.scheme.lower()]
    return f"{p.scheme.lower()}://{host}" + (f":{port}" if port and port != default else "")


def robots_url(url: str) -> str | None:
    origin = origin_of(url)
    return f"{origin}/robots.txt" if origin else None


@dataclass
class _Entry:
    parser: RobotFileParser | None  # None: no rules (a 4xx), everything allowed
    expires: float  # clock time
    error: FetchError | None = None  # unreachable: requests wait until ``expires``, then the file is asked again


class Robots:
    """One cache of robots.txt files for a run (a poller, an ``ingest --once``), keyed by origin.

    ``check(client, url, slot)`` returns when ``url`` may be requested (after fetching the origin's robots.txt
    inside ``slot(robots_url)`` when it has none, or only an expired one); it raises ``RobotsDenied`` when the rules
    disallow it and ``FetchError`` (``retry_after`` set) while the file is unreachable. One fetch per origin at a
    time: requests that arrive meanwhile wait for its answer.
    """

    def __init__(self, user_agent: str, hosts: HostLimiter | None = None, *, ttl: float = ROBOTS_TTL,
                 wait: float = UNREACHABLE_WAIT, max_delay: float = 60.0, total_timeout: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.user_agent = user_agent
        self.hosts = hosts
        self.ttl, self.wait, self.max_delay = ttl, wait, max_delay
        self.total_timeout = total_timeout
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, origin: str) -> _Entry | None:
        e = self._entries.get(origin)
        return e if e is not None and e.expires > self._clock() else None

    def cached_denial(self, url: str) -> None:
        """Raise ``RobotsDenied`` when a robots.txt already in the cache disallows ``url`` (no request is made: a
        redirect hop to another origin is checked this way, mid-chain)."""
        origin = origin_of(url)
        e = self._fresh(origin) if origin else None
        if e is not None and e.parser is not None and not e.parser.can_fetch(self.user_agent, url):
            raise RobotsDenied(url, f"{origin}/robots.txt")

    def delay(self, url: str) -> float | None:
        """What the cached robots.txt of ``url``'s origin asks as the gap between requests (uncapped), or None."""
        origin = origin_of(url)
        e = self._entries.get(origin) if origin else None
        if e is None or e.parser is None:
            return None
        delays: list[float] = []
        cd = e.parser.crawl_delay(self.user_agent)
        rr = e.parser.request_rate(self.user_agent)
        if cd is not None:
            delays.append(float(cd))
        if rr is not None and rr.requests > 0:
            delays.append(rr.seconds / rr.requests)
        return max(delays) if delays else None

    async def check(self, client: httpx.AsyncClient, url: str, slot: Slot) -> None:
        origin = origin_of(url)
        if origin is None:
            return  # local files (and anything fetch refuses anyway) have no robots.txt
        entry = self._fresh(origin)
        if entry is None:
            lock = self._locks.setdefault(origin, asyncio.Lock())
            async with lock:
                entry = self._fresh(origin)
                if entry is None:
                    entry = await self._load(client, origin, slot)
                    if len(self._entries) >= _PRUNE_AT:
                        self._prune()
                    self._entries[origin] = entry
        if entry.error is not None:
            e = entry.error
            wait = max(1.0, entry.expires - self._clock())
            raise FetchError(f"{url}: {origin}/robots.txt unreachable ({e}); asking again in {wait:.0f}s",
                             retry_after=wait, permanent=e.permanent, status=e.status)
        if self.hosts is not None:
            d = self.delay(url)
            # Every time, not once: the limiter forgets idle hosts, and with them a raised interval.
            self.hosts.set_interval(url, min(d, self.max_delay) if d is not None else 0.0)
        if entry.parser is not None and not entry.parser.can_fetch(self.user_agent, url):
            raise RobotsDenied(url, f"{origin}/robots.txt")

    def _prune(self) -> None:
        now = self._clock()
        for k, e in list(self._entries.items()):
            if e.expires <= now:
                del self._entries[k]
                lock = self._locks.get(k)
                if lock is not None and not lock.locked():
                    del self._locks[k]

    async def _load(self, client: httpx.AsyncClient, origin: str, slot: Slot) -> _Entry:
        url = f"{origin}/robots.txt"
        missing: FetchError | None = None
        try:
            async with slot(url):
                try:
                    got = await fetch(client, url, max_bytes=MAX_ROBOTS_BYTES, total_timeout=self.total_timeout,
                                      truncate=True)
                except FetchError as e:
                    if e.status is None or not 400 <= e.status < 500 or e.status == 429:
                        raise  # unreachable: leaves the slot as a failed request
                    missing = e  # no robots.txt: an answer, not a failure
        except FetchError as e:
            wait = min(MAX_UNREACHABLE_WAIT, max(self.wait, e.retry_after or 0.0))
            log.warning("event=robots_unreachable robots=%s retry_in=%.0f error=%r", url, wait, str(e)[:300])
            return _Entry(None, self._clock() + wait, e)
        if missing is not None:
            log.debug("event=robots_missing robots=%s status=%s", url, missing.status)
            return _Entry(None, self._clock() + self.ttl)
        return _Entry(_parse(url, got.body), self._clock() + self.ttl)


def _parse(url: str, body: bytes) -> RobotFileParser:
    lines = body.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()
    parser = RobotFileParser(url)
    try:
        parser.parse(lines)
    except ValueError:
        # robotparser runs each path through urlparse, which refuses a few shapes ("/[x"); drop those lines.
        parser = RobotFileParser(url)
        parser.parse([line for line in lines if _parseable(line)])
    return parser


def _parseable(line: str) -> bool:
    try:
        RobotFileParser().parse(["User-agent: *", line])
    except ValueError:
        return False
    return True
