"""Outlets and their feeds as data (TOML), with OPML import and export."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from pipeline.errors import ConfigError

__all__ = [
    "Feed",
    "FeedEntry",
    "Outlet",
    "Registry",
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


def save_registry(registry: Registry, path: Path) -> None:
    """Write the registry back as TOML, atomically (comments in a hand-written file are not kept)."""
    lines = ["# Outlets and their feeds (written by newsrift feeds)."]
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
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


class _Refused(Exception):
    pass


def _refuse_entities(*_args: object) -> None:
    # Entity declarations are how expansion bombs (billion laughs) and external-entity reads start; OPML needs none.
    raise _Refused("entity declarations are refused")


def _slug(title: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40].strip("-") or "outlet"


def parse_opml(data: bytes, source: str = "OPML") -> list[Outlet]:
    """Outlines with an xmlUrl become outlets (one feed each); ids are slugs of the titles, made unique."""
    outlines: list[dict[str, str]] = []
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = _refuse_entities
    parser.UnparsedEntityDeclHandler = _refuse_entities
    parser.ExternalEntityRefHandler = lambda *a: 0  # never fetch anything named by the document

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == "outline" and attrs.get("xmlUrl"):
            outlines.append(attrs)

    parser.StartElementHandler = start
    try:
        parser.Parse(data, True)
    except _Refused as e:
        raise ConfigError(f"{source}: {e}") from e
    except expat.ExpatError as e:
        raise ConfigError(f"{source}: not valid OPML: {e}") from e
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


def import_opml(path: Path) -> list[Outlet]:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_OPML_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{path}: {e.strerror or e}") from e
    if len(data) > MAX_OPML_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_OPML_BYTES} bytes")
    return parse_opml(data, str(path))


def export_opml(registry: Registry) -> str:
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = "newsrift feeds"
    body = ET.SubElement(root, "body")
    for o in registry.outlets:
        for f in o.feeds:
            ET.SubElement(body, "outline", type="rss", text=o.name, title=o.name,
                          xmlUrl=resolve_url(f.url, registry.base), htmlUrl=o.homepage)
    return ET.tostring(root, encoding="unicode")
