"""The shared client keeps no cookies: what one response sets is never sent back, by the feed or by a redirect hop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from newsrift.connectors.http import fetch, make_client
from tests.unit.connectors.conftest import RouteServer, item, rss

SET = {"Set-Cookie": "sid=tracker-123; Path=/; Max-Age=3600", "Content-Type": "application/rss+xml"}


def _recording(server: RouteServer) -> list[str | None]:
    """Every path answers a feed and sets a cookie; returns the Cookie header of each request, in order."""
    seen: list[str | None] = []

    def reply(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        seen.append(headers.get("cookie"))
        return 200, SET, rss(item("a", "https://ex.example/a"))

    def hop(headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        seen.append(headers.get("cookie"))
        return 302, {**SET, "Location": "/feed"}, b""

    server.routes["/feed"] = reply
    server.routes["/other"] = reply
    server.routes["/hop"] = hop
    return seen


def test_a_cookie_set_by_a_feed_is_not_sent_back(web: Callable[..., RouteServer]) -> None:
    server = web()
    seen = _recording(server)

    async def go() -> httpx.Cookies:
        async with make_client(read_timeout=5.0) as client:
            for path in ("/feed", "/feed", "/other", "/hop"):  # /hop: 302 (with Set-Cookie) then /feed
                assert (await fetch(client, server.base + path)).status == 200
            return client.cookies

    jar = asyncio.run(go())
    assert len(seen) == 5  # /feed, /feed, /other, /hop, its /feed
    assert seen == [None] * 5
    assert len(jar.jar) == 0


def test_the_server_above_would_catch_a_client_that_keeps_cookies(web: Callable[..., RouteServer]) -> None:
    # Control: an httpx client with its default jar does send the cookie back, so the test above can fail.
    server = web()
    seen = _recording(server)

    async def go() -> None:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            await fetch(client, server.base + "/feed")
            await fetch(client, server.base + "/feed")

    asyncio.run(go())
    assert seen == [None, "sid=tracker-123"]
