"""Fetching feeds safely: timeouts, a size cap on the decompressed body, a redirect cap with every hop re-checked,
no private or metadata addresses (unless NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1), conditional GET."""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from pipeline.errors import NewsriftError

__all__ = ["USER_AGENT", "FetchError", "FetchResult", "fetch"]

USER_AGENT = "newsrift/0.1 (+https://github.com/newsrift/newsrift; feed reader)"
MAX_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5


class FetchError(NewsriftError):
    """A feed could not be fetched; ``retry_after`` is set when the server asked us to wait."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


@dataclass(frozen=True)
class FetchResult:
    status: int  # 200 or 304
    body: bytes
    etag: str | None
    last_modified: str | None
    url: str


def _check_host(url: str) -> None:
    if os.environ.get("NEWSRIFT_ALLOW_PRIVATE_NETWORKS") == "1":
        return
    host = urlsplit(url).hostname
    if not host:
        raise FetchError(f"{url}: no host", permanent=True)
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as e:
        raise FetchError(f"{url}: cannot resolve {host}: {e}") from e
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or \
                ip.is_unspecified or str(ip) == "169.254.169.254":
            raise FetchError(f"{url}: {host} resolves to a non-public address ({ip}); refused "
                             "(NEWSRIFT_ALLOW_PRIVATE_NETWORKS=1 allows it)", permanent=True)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            from datetime import datetime, timezone

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
        except (TypeError, ValueError):
            return None


async def fetch(client: httpx.AsyncClient, url: str, etag: str | None = None, last_modified: str | None = None,
                max_bytes: int = MAX_BYTES) -> FetchResult:
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path))
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise FetchError(f"{url}: {size} bytes, over the {max_bytes}-byte limit", permanent=True)
            return FetchResult(200, path.read_bytes(), None, None, url)
        except OSError as e:
            raise FetchError(f"{url}: {e.strerror}") from e
    if not url.startswith(("http://", "https://")):
        raise FetchError(f"{url}: only http(s) and file URLs are fetched", permanent=True)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
               "text/xml;q=0.8, */*;q=0.1"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        _check_host(current)
        try:
            async with client.stream("GET", current, headers=headers) as resp:
                if resp.status_code in (301, 302, 303, 307, 308):
                    location = resp.headers.get("location")
                    if not location:
                        raise FetchError(f"{current}: redirect without a Location")
                    current = urljoin(current, location)
                    continue
                if resp.status_code == 304:
                    return FetchResult(304, b"", etag, last_modified, current)
                if resp.status_code in (429, 503):
                    raise FetchError(f"{current}: HTTP {resp.status_code}",
                                     retry_after=_retry_after(resp.headers.get("retry-after")))
                if resp.status_code in (404, 410):
                    raise FetchError(f"{current}: HTTP {resp.status_code}", permanent=resp.status_code == 410)
                if resp.status_code >= 400:
                    raise FetchError(f"{current}: HTTP {resp.status_code}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"{current}: declares {declared} bytes, over the {max_bytes}-byte limit")
                chunks: list[bytes] = []
                total = 0
                # aiter_bytes yields decompressed data: the cap holds against gzip bombs too.
                async for chunk in resp.aiter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise FetchError(f"{current}: body over the {max_bytes}-byte limit (decompressed)")
                    chunks.append(chunk)
                return FetchResult(resp.status_code, b"".join(chunks), resp.headers.get("etag"),
                                   resp.headers.get("last-modified"), current)
        except httpx.HTTPError as e:
            raise FetchError(f"{current}: {type(e).__name__}: {e}") from e
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
