"""Outlets and their feeds as data (TOML), with OPML import and export."""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

from newsrift.errors import ConfigError

__all__ = [
    "Feed",
    "FeedEntry",
    "Outlet",
    "Registry",
    "check_feed_url",
    "check_outlet_id",
    "export_opml",
    "import_opml",
    "load_registry",
    "parse_opml",
    "resolve_url",
    "save_registry",
]

MAX_OPML_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Feed:
    url: str
    outlet_id: str
    poll_interval: float | None = None
    full_text: bool = False
    language: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One feed of an outlet as written in the registry; ``None`` settings fall back to the outlet's."""

    url: str
    poll_interval: float | None = None
    full_text: bool | None = None


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    homepage: str = ""
    language: str | None = None
    poll_interval: float | None = None
    full_text: bool = False
    feeds: tuple[FeedEntry, ...] = field(default=())

    @property
    def feed_urls(self) -> tuple[str, ...]:
        return tuple(f.url for f in self.feeds)


@dataclass(frozen=True)
class Registry:
    outlets: tuple[Outlet, ...]
    base: Path

    def feeds(self) -> list[Feed]:
        out = []
        for o in self.outlets:
            for f in o.feeds:
                interval = f.poll_interval if f.poll_interval is not None else o.poll_interval
                full_text = f.full_text if f.full_text is not None else o.full_text
                out.append(Feed(resolve_url(f.url, self.base), o.id, interval, full_text, o.language))
        return out


def resolve_url(url: str, base: Path) -> str:
    """http(s) and file URLs as they are; plain paths relative to the registry's folder."""
    if "://" in url:
        return url
    return (base / Path(url).expanduser()).resolve().as_uri()


_OUTLET_ID = re.compile(r"[^\W_][\w.-]{0,99}")
FEED_SCHEMES = ("http", "https", "file")


def check_outlet_id(outlet_id: str) -> None:
    """``ConfigError`` unless the id is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit."""
    if not _OUTLET_ID.fullmatch(outlet_id):
        raise ConfigError(f"outlet id {outlet_id!r} is not usable: use 1-100 letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit (e.g. global-wire)")


def _scheme(url: str) -> str | None:
    """The URL's scheme, or None for a plain path (a Windows drive letter is a path, not a scheme)."""
    scheme = urlsplit(url).scheme
    return scheme.lower() if len(scheme) > 1 else None


def check_feed_url(url: str, base: Path | None = None) -> str:
    """What ``ingest`` can poll: an http(s) URL with a host, a file:// URL, or a path relative to ``base`` (the
    registry's folder) that exists when ``base`` is given. Returns the URL stripped; ``ConfigError`` otherwise."""
    url = url.strip()
    if not url:
        raise ConfigError("a feed URL cannot be empty")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ConfigError(f"feed URL {url!r} contains spaces or control characters")
    scheme = _scheme(url)
    if scheme is None:
        if base is not None and not (base / Path(url).expanduser()).is_file():
            raise ConfigError(f"feed {url!r}: no such file (a local path is taken relative to {base}); "
                              "use an http(s) or file:// URL, or an existing file")
        return url
    if scheme not in FEED_SCHEMES:
        raise ConfigError(f"feed URL {url!r}: unsupported scheme {scheme}: (use http, https, file:// or a path)")
    if "://" not in url:
        raise ConfigError(f"feed URL {url!r}: write it as {scheme}://...")
    parts = urlsplit(url)
    if scheme == "file":
        if not parts.path:
            raise ConfigError(f"feed URL {url!r}: a file:// URL needs a path")
        return url
    try:
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError as e:
        raise ConfigError(f"feed URL {url!r}: {e}") from e
    if not parts.hostname:
        raise ConfigError(f"feed URL {url!r} has no host")
    return url


_OUTLET_KEYS = {"id", "name", "homepage", "language", "poll_interval", "full_text", "feeds"}
_FEED_KEYS = {"url", "poll_interval", "full_text"}


def _interval(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: poll_interval must be a positive number of seconds")
    return float(value)


def _flag(value: object, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: full_text must be true or false")


def _feed_entry(value: object, where: str) -> FeedEntry:
    if isinstance(value, str) and value.strip():
        return FeedEntry(value.strip())
    if isinstance(value, dict):
        unknown = sorted(set(value) - _FEED_KEYS)
        if unknown:
            # A typo ("poll_intervall") silently ignored would poll at the wrong rate for months.
            raise ConfigError(f"{where}: unknown feed setting(s) {', '.join(unknown)}")
        url = value.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{where}: a feed table needs url = \"...\"")
        return FeedEntry(url.strip(), _interval(value.get("poll_interval"), where),
                         _flag(value.get("full_text"), where))
    raise ConfigError(f"{where}: a feed is a URL/path string or a table {{ url = ..., poll_interval = ..., "
                      "full_text = ... }}")


def load_registry(path: Path) -> Registry:
    """Read and validate a registry; every mistake is a ``ConfigError`` naming the outlet it is in."""
    if not path.exists():
        raise ConfigError(f"{path}: no such registry file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from e
    outlets = []
    ids: set[str] = set()
    entries = data.get("outlets", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'outlets' must be an array of tables ([[outlets]])")
    for i, o in enumerate(entries):
        where = f"{path}: outlet #{i + 1}"
        if not isinstance(o, dict) or not isinstance(o.get("id"), str) or not o["id"].strip():
            raise ConfigError(f"{where} needs a string id")
        where = f"{where} ({o['id']})"
        unknown = sorted(set(o) - _OUTLET_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
        feeds = o.get("feeds")
        if not isinstance(feeds, list) or not feeds:
            raise ConfigError(f"{where} needs feeds = [\"url or path\", ...]")
        if o["id"] in ids:
            raise ConfigError(f"{path}: outlet id {o['id']!r} appears twice")
        for key in ("name", "homepage", "language"):
            if key in o and not isinstance(o[key], str):
                raise ConfigError(f"{where}: {key} must be a string")
        ids.add(o["id"])
        outlets.append(Outlet(id=str(o["id"]), name=str(o.get("name", o["id"])), homepage=str(o.get("homepage", "")),
                              language=o.get("language") or None,
                              poll_interval=_interval(o.get("poll_interval"), where),
                              full_text=bool(_flag(o.get("full_text"), where)),
                              feeds=tuple(_feed_entry(f, f"{where} feed #{n + 1}") for n, f in enumerate(feeds))))
    return Registry(tuple(outlets), path.parent.resolve())


def _toml_str(s: str) -> str:
    # JSON's string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL, JSON leaves it raw.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007F")


def _toml_feed(f: FeedEntry) -> str:
    if f.poll_interval is None and f.full_text is None:
        return _toml_str(f.url)
    parts = [f"url = {_toml_str(f.url)}"]
    if f.poll_interval is not None:
        parts.append(f"poll_interval = {f.poll_interval:g}")
    if f.full_text is not None:
        parts.append(f"full_text = {'true' if f.full_text else 'false'}")
    return "{ " + ", ".join(parts) + " }"


def _comments(path: Path) -> tuple[list[str], int]:
    """The file's leading comment block (kept when the file is rewritten), and how many comment lines follow it
    (not kept). A '#' inside a string counts too: the count errs on the side of saying that something is lost."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return [], 0
    head: list[str] = []
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        head.append(line.rstrip())
    while head and not head[-1].strip():
        head.pop()
    rest = lines[len(head):]
    return head, sum(1 for line in rest if "#" in line)


def save_registry(registry: Registry, path: Path) -> int:
    """Write the registry back as TOML, atomically. The file's leading comment block is kept; other comments in a
    hand-written file are not: returns how many lines with comments were dropped (0 for a file without any)."""
    head, dropped = _comments(path)
    lines = head or ["# Outlets and their feeds (written by newsrift feeds)."]
    for o in registry.outlets:
        lines += ["", "[[outlets]]", f"id = {_toml_str(o.id)}", f"name = {_toml_str(o.name)}"]
        if o.homepage:
            lines.append(f"homepage = {_toml_str(o.homepage)}")
        if o.language:
            lines.append(f"language = {_toml_str(o.language)}")
        if o.poll_interval:
            lines.append(f"poll_interval = {o.poll_interval:g}")
        if o.full_text:
            lines.append("full_text = true")
        lines.append("feeds = [" + ", ".join(_toml_feed(f) for f in o.feeds) + "]")
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dropped


class _Refused(Exception):
    pass


def _refuse_entities(*_args: object) -> None:
    # Entity declarations are how expansion bombs (billion laughs) and external-entity reads start; OPML needs none.
    raise _Refused("entity declarations are refused")


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40].strip("-") or "outlet"


def parse_opml(data: bytes, source: str = "OPML", skipped: list[str] | None = None) -> list[Outlet]:
    """Outlines with an xmlUrl become outlets (one feed each); ids are slugs of the titles, made unique.

    ``ConfigError`` when the bytes are no OPML document or list no usable feed. Outlines that are left out (no
    xmlUrl and no child outlines, or a feed URL that is neither http(s), file:// nor a path) are described in
    ``skipped``; folders (outlines holding outlines) are not feeds and not reported.
    """
    outlines: list[dict[str, str]] = []
    open_outlines: list[dict[str, Any]] = []
    root: list[str] = []
    notes: list[str] = []
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entities
    parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = lambda *a: 0  # never fetch anything named by the document

    def start(name: str, attrs: dict[str, str]) -> None:
        if not root:
            root.append(name)
        if name != "outline":
            return
        if open_outlines:
            open_outlines[-1]["children"] = True
        open_outlines.append({"attrs": attrs, "line": parser.CurrentLineNumber, "children": False})

    def end(name: str) -> None:
        if name != "outline" or not open_outlines:
            return
        node = open_outlines.pop()
        attrs, line = node["attrs"], node["line"]
        label = (attrs.get("title") or attrs.get("text") or "").strip()
        where = f"outline at line {line}" + (f" ({label!r})" if label else "")
        url = (attrs.get("xmlUrl") or "").strip()
        if not url:
            if not node["children"]:
                notes.append(f"{where}: no xmlUrl, skipped")
            return
        try:
            check_feed_url(url)
        except ConfigError as e:
            notes.append(f"{where}: {e}, skipped")
            return
        outlines.append(attrs)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except _Refused as e:
        raise ConfigError(f"{source}: {e}") from e
    except expat.ExpatError as e:
        raise ConfigError(f"{source}: not valid OPML: {e}") from e
    if not root or root[0].lower() != "opml":
        raise ConfigError(f"{source}: not an OPML file (its root element is <{root[0] if root else '?'}>, "
                          "not <opml>)")
    if skipped is not None:
        skipped += notes
    if not outlines:
        raise ConfigError(f"{source}: no usable feeds in it (no outline with an http(s), file:// or path xmlUrl)"
                          + (f"; {len(notes)} outline(s) skipped: {notes[0]}" if notes else ""))
    outlets: list[Outlet] = []
    ids: set[str] = set()
    for node in outlines:
        url = node["xmlUrl"].strip()
        title = (node.get("title") or node.get("text") or url).strip()
        oid, n = _slug(title), 2
        while oid in ids:  # two outlines with the same title must not collide on one outlet id
            oid, n = f"{_slug(title)}-{n}", n + 1
        ids.add(oid)
        outlets.append(Outlet(id=oid, name=title, homepage=node.get("htmlUrl", ""), language=node.get("language"),
                              feeds=(FeedEntry(url),)))
    return outlets


def import_opml(path: Path, skipped: list[str] | None = None) -> list[Outlet]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_OPML_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from e
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_OPML_BYTES} bytes")
    return parse_opml(data, str(path), skipped)


def export_opml(registry: Registry) -> str:
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = "newsrift feeds"
    body = ET.SubElement(root, "body")
    for o in registry.outlets:
        for f in o.feeds:
            ET.SubElement(body, "outline", type="rss", text=o.name, title=o.name,
                          xmlUrl=resolve_url(f.url, registry.base), htmlUrl=o.homepage)
    return ET.tostring(root, encoding="unicode")
