"""Fetching feeds safely.

Every rule here exists because a feed URL is untrusted input: connect and total timeouts (a server that drips one
byte a second must not hold a worker), a cap on the *decompressed* body (gzip bombs, endless streams), at most five
redirects with every hop re-checked, and no private, loopback, link-local or metadata addresses unless
``NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1`` (the address is checked when the name resolves *and* on the connected socket,
so a DNS answer that changes between the two cannot slip through). Local paths and ``file://`` URLs are read
directly, with the same size cap.

Proxies come from the standard environment variables (``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY``, ``NO_PROXY``,
lower-case forms first) when the operator sets them. The address rules apply to the *target*: its name is resolved
and checked here before anything is sent; the proxy hop itself (usually a private address) is not checked, and a
response that came through a proxy has no peer address of the target's to re-check.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ipaddress
import os
import socket
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from newsrift.errors import NewsriftError

__all__ = [
    "MAX_BYTES",
    "MAX_REDIRECTS",
    "USER_AGENT",
    "FetchError",
    "FetchResult",
    "fetch",
    "is_public_address",
    "make_client",
    "private_networks_allowed",
    "proxy_for",
]

# No URL here: the project has no public page to point publishers to. Operators set NEWSRIFT_USER_AGENT to an agent
# string with their own contact (a URL or an e-mail address), which is what a publisher needs to reach them.
USER_AGENT = "newsrift/0.1 (news feed reader; operator contact not configured)"
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)  # "moved permanently": the feed's address itself changed (302/303/307 say nothing of it)
_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.9, " \
          "text/xml;q=0.8, */*;q=0.1"


class FetchError(NewsriftError):
    """A feed could not be fetched. ``retry_after`` (seconds) is set when the server asked us to wait;
    ``permanent`` when retrying cannot help (refused address, 410 Gone, unsupported scheme)."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
        self.status = status


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200 or 304
    body: bytes
    etag: str | None
    last_modified: str | None
    url: str  # the final URL, after redirects
    content_type: str | None = None
    # Where the permanent redirects (301/308) that the chain *started* with led: the feed's new address. None when
    # the first hop was not a permanent redirect; a chain 301 -> 302 -> 200 gives the 301's target.
    moved_to: str | None = None


def private_networks_allowed() -> bool:
    return os.environ.get("NEWSRIFT_ALLOW_PRIVATE_NETWORKS") == "1"


def is_public_address(value: str) -> bool:
    """True for globally routable unicast addresses only (IPv4-mapped IPv6 is judged by its IPv4 part)."""
    try:
        ip = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global is False for private, loopback, link-local (incl. 169.254.169.254 metadata), CGNAT, reserved, ...
    return ip.is_global and not ip.is_multicast


async def _check_host(url: str) -> None:
    if private_networks_allowed():
        return
    host = urlsplit(url).hostname
    if not host:
        raise FetchError(f"{url}: no host", permanent=True)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise FetchError(f"{url}: cannot resolve {host}: {e}") from e
    for info in infos:
        addr = str(info[4][0])
        if not is_public_address(addr):
            raise FetchError(f"{url}: {host} resolves to a non-public address ({addr}); refused "
                             "(NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1 allows it)", permanent=True)


def _check_peer(resp: httpx.Response, url: str) -> None:
    """The address actually connected to, re-checked: defeats DNS rebinding between our lookup and httpx's. Through
    a proxy the connection is to the proxy, which is the operator's choice, not the feed's: nothing to check."""
    if private_networks_allowed() or resp.extensions.get(_VIA_PROXY):
        return
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        raise FetchError(f"{url}: connected to a non-public address ({peer[0]}); refused", permanent=True)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _local_path(url: str) -> Path | None:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    if "://" not in url:
        return Path(url)
    return None


def _read_local(path: Path, url: str, max_bytes: int) -> FetchResult:
    try:
        # Read at most max_bytes + 1: a stat() size can lie (/dev/zero, a growing file, a FIFO).
        with path.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except OSError as e:
        raise FetchError(f"{url}: {e.strerror or e}") from e
    if len(body) > max_bytes:
        raise FetchError(f"{url}: over the {max_bytes}-byte limit", permanent=True)
    return FetchResult(200, body, None, None, path.resolve().as_uri(), "application/xml")


def _no_cookies() -> http.cookiejar.CookieJar:
    # httpx has no switch to turn cookies off; a jar whose policy accepts no domain stores nothing, so nothing a
    # server sets (tracking ids, consent walls) is ever sent back, to it or to any other feed of the shared client.
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


_VIA_PROXY = "newsrift_via_proxy"  # response extension set by _ProxyRouter: the connection was to a proxy


def proxy_for(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``<scheme>_proxy``, else ``all_proxy``; ``no_proxy`` hosts and
    domains, or ``*``, go direct), or None. The standard library's reading of these variables."""
    proxies = urllib.request.getproxies_environment()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy or not host:
        return None
    # proxy_bypass_environment: the stdlib's NO_PROXY matching (hosts, domains, "*"); public but not in typeshed.
    if urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            f"{host}:{port}" if port else host, proxies):
        return None
    return proxy


def _redact(proxy: str) -> str:
    try:
        p = urlsplit(proxy)
        return f"{p.scheme}://{p.hostname}" + (f":{p.port}" if p.port else "")
    except ValueError:
        return "(unparseable proxy URL)"


class _ProxyRouter(httpx.AsyncBaseTransport):
    """Sends each request directly or through the proxy ``proxy_for`` names for its URL (read per request, so the
    decision and the address checks use the same rule), and marks responses that came through a proxy."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._direct = httpx.AsyncHTTPTransport(limits=limits)
        self._via: dict[str, httpx.AsyncHTTPTransport] = {}

    def _transport(self, proxy: str) -> httpx.AsyncHTTPTransport:
        t = self._via.get(proxy)
        if t is None:
            try:
                t = httpx.AsyncHTTPTransport(limits=self._limits, proxy=proxy)
            except (ImportError, ValueError) as e:  # socks5:// without socksio, a malformed URL
                raise httpx.ProxyError(f"cannot use the proxy {_redact(proxy)}: {e}") from e
            self._via[proxy] = t
        return t

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = proxy_for(str(request.url))
        if proxy is None:
            return await self._direct.handle_async_request(request)
        resp = await self._transport(proxy).handle_async_request(request)
        resp.extensions[_VIA_PROXY] = True
        return resp

    async def aclose(self) -> None:
        for t in (self._direct, *self._via.values()):
            await t.aclose()


def make_client(concurrency: int = 32, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                user_agent: str = USER_AGENT) -> httpx.AsyncClient:
    """The shared client: redirects are followed by ``fetch`` itself so every hop is re-checked; no cookies are kept
    (the jar refuses every cookie); environment proxies are used, the address checks still apply to the targets."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(
        cookies=_no_cookies(),  # the jar itself, not an httpx.Cookies copy (that would bring back the default policy)
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=False,
        headers={"User-Agent": user_agent},
        transport=_ProxyRouter(limits),
        trust_env=False,  # proxies are _ProxyRouter's business, so that they and the address checks agree
    )


async def fetch(client: httpx.AsyncClient, url: str, etag: str | None = None, last_modified: str | None = None,
                max_bytes: int = MAX_BYTES, total_timeout: float = 60.0, *,
                check_hop: Callable[[str], None] | None = None, truncate: bool = False) -> FetchResult:
    """GET ``url`` (conditionally when validators are given); 200 or 304, else ``FetchError``.

    ``check_hop(url)`` is called before each redirect hop is requested and may refuse it by raising ``FetchError``.
    ``truncate``: a body over ``max_bytes`` is cut there instead of refused (robots.txt: only its start is read).
    The User-Agent is the client's."""
    local = _local_path(url)
    if local is not None:
        return await asyncio.to_thread(_read_local, local, url, max_bytes)
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"{url}: only http(s), file URLs and local paths are fetched", permanent=True)
    try:
        async with asyncio.timeout(total_timeout):
            return await _fetch_http(client, url, etag, last_modified, max_bytes, check_hop, truncate)
    except TimeoutError as e:
        raise FetchError(f"{url}: took longer than {total_timeout:.0f}s in total") from e


async def _fetch_http(client: httpx.AsyncClient, url: str, etag: str | None, last_modified: str | None,
                      max_bytes: int, check_hop: Callable[[str], None] | None, truncate: bool) -> FetchResult:
    headers = {"Accept": _ACCEPT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    moved_to: str | None = None
    permanent = True  # every hop so far was a permanent redirect
    for _ in range(MAX_REDIRECTS + 1):
        if not current.startswith(("http://", "https://")):
            raise FetchError(f"{url}: redirected to a non-http URL {current!r}; refused", permanent=True)
        if check_hop is not None and current != url:
            check_hop(current)
        await _check_host(current)
        try:
            async with client.stream("GET", current, headers=headers) as resp:
                _check_peer(resp, current)
                code = resp.status_code
                if code in _REDIRECTS:
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(f"{current}: HTTP {code} redirect without a Location", status=code)
                    current = urljoin(current, location)
                    permanent = permanent and code in _PERMANENT
                    if permanent:
                        moved_to = current
                    continue
                if code == 304:
                    return FetchResult(304, b"", resp.headers.get("etag") or etag,
                                       resp.headers.get("last-modified") or last_modified, current,
                                       moved_to=moved_to)
                if code in (429, 503):
                    raise FetchError(f"{current}: HTTP {code}", status=code,
                                     retry_after=retry_after_seconds(resp.headers.get("retry-after")))
                if code >= 400:
                    raise FetchError(f"{current}: HTTP {code}", permanent=code == 410, status=code)
                if code != 200:
                    raise FetchError(f"{current}: unexpected HTTP {code}", status=code)
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes and not truncate:
                    raise FetchError(f"{current}: declares {declared} bytes, over the {max_bytes}-byte limit")
                chunks: list[bytes] = []
                total = 0
                # aiter_bytes yields *decompressed* data, so the cap also holds against gzip/brotli bombs;
                # we stop reading at the cap instead of buffering the whole thing.
                async for chunk in resp.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        if truncate:
                            chunks.append(chunk[: max_bytes - (total - len(chunk))])
                            break
                        raise FetchError(f"{current}: body over the {max_bytes}-byte limit (decompressed)")
                    chunks.append(chunk)
                return FetchResult(200, b"".join(chunks), resp.headers.get("etag"),
                                   resp.headers.get("last-modified"), current, resp.headers.get("content-type"),
                                   moved_to)
        except httpx.HTTPError as e:
            raise FetchError(f"{current}: {type(e).__name__}: {e or 'no detail'}") from e
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
