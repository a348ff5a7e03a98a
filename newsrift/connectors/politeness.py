"""Politeness per host: at most ``per_host`` requests in flight to one host, and at least ``min_interval`` seconds
between the starts of two requests to it.

A request waits by sleeping exactly until its turn (no polling), holding only its own host's lock, so a slow or
busy host never delays a request to another one. Local paths and ``file://`` URLs have no host to be polite to:
they share one in-flight cap and are never spaced out. A host's interval can be raised above the minimum
(``set_interval``: its robots.txt asks for a ``Crawl-delay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

__all__ = ["LOCAL", "HostLimiter", "Slot", "host_key"]

LOCAL = "local"  # the key shared by local paths and file:// URLs
# What a fetcher asks for around one request: ``async with slot(url): ...`` (``HostLimiter.slot`` is one).
Slot = Callable[[str], AbstractAsyncContextManager[None]]
_PRUNE_AT = 1024  # hosts remembered before idle ones are forgotten (a long-running poller meets many hosts)


def host_key(url: str) -> str:
    """The host a request to ``url`` goes to (lower-case name, port ignored), or ``LOCAL`` for a local file."""
    if not url.startswith(("http://", "https://")):
        return LOCAL
    try:
        return urlsplit(url).hostname or LOCAL
    except ValueError:
        return LOCAL


class _Host:
    __slots__ = ("interval", "last_start", "lock", "sem", "users")

    def __init__(self, per_host: int, interval: float) -> None:
        self.sem = asyncio.Semaphore(per_host)
        self.lock = asyncio.Lock()  # one waiter at a time computes and sleeps out the gap: FIFO, no thundering herd
        self.last_start = -math.inf
        self.interval = interval  # the limiter's minimum, or more when the host asked for more (Crawl-delay)
        self.users = 0  # holding or waiting for a slot


class HostLimiter:
    """``async with limiter.slot(url):`` around each request.

    ``clock`` (monotonic seconds) and ``sleep`` can be replaced in tests.
    """

    def __init__(self, per_host: int = 2, min_interval: float = 1.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, not {per_host}")
        if not min_interval >= 0:  # also refuses NaN
            raise ValueError(f"min_interval must be 0 or more seconds, not {min_interval}")
        self.per_host = per_host
        self.min_interval = float(min_interval)
        self._clock = clock
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}

    def _host(self, key: str) -> _Host:
        h = self._hosts.get(key)
        if h is None:
            if len(self._hosts) >= _PRUNE_AT:
                self._prune()
            h = self._hosts[key] = _Host(self.per_host, self.min_interval)
        return h

    def set_interval(self, url: str, seconds: float) -> None:
        """Space the starts of requests to ``url``'s host at least ``seconds`` apart (never less than the limiter's
        minimum interval); a forgotten idle host starts from the minimum again, so callers set it before each
        request (the robots.txt check does)."""
        key = host_key(url)
        if key != LOCAL and seconds >= 0:
            self._host(key).interval = max(self.min_interval, float(seconds))

    def interval(self, url: str) -> float:
        """The current interval between request starts to ``url``'s host (0 for local files)."""
        key = host_key(url)
        if key == LOCAL:
            return 0.0
        h = self._hosts.get(key)
        return h.interval if h is not None else self.min_interval

    def _prune(self) -> None:
        # A host nobody holds or waits for, whose gap has passed, is as good as a new one: forget it.
        now = self._clock()
        for key, h in list(self._hosts.items()):
            if h.users == 0 and h.last_start + h.interval <= now:
                del self._hosts[key]

    @contextlib.asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        key = host_key(url)
        h = self._host(key)
        h.users += 1
        try:
            async with h.sem:
                if key != LOCAL:
                    async with h.lock:
                        # Sleep out the rest of the gap since the last start to this host; loop only in case a
                        # timer fires a hair early (each pass sleeps the whole remainder, never a polling tick).
                        # The start is recorded even at interval 0: a Crawl-delay set later counts from it.
                        while h.interval > 0 and (wait := h.last_start + h.interval - self._clock()) > 0:
                            await self._sleep(wait)
                        h.last_start = self._clock()
                yield
        finally:
            h.users -= 1
