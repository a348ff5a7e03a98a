"""Outlets and their feeds as data (TOML), with OPML import and export."""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError

__all__ = ["Feed", "Outlet", "Registry", "export_opml", "import_opml", "load_registry", "save_registry"]


@dataclass(frozen=True)
class Feed:
    url: str
    outlet_id: str
    poll_interval: float | None = None
    full_text: bool = False
    language: str | None = None


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    homepage: str = ""
    language: str | None = None
    poll_interval: float | None = None
    full_text: bool = False
    feeds: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Registry:
    outlets: tuple[Outlet, ...]
    base: Path

    def feeds(self) -> list[Feed]:
        out = []
        for o in self.outlets:
            for url in o.feeds:
                out.append(Feed(resolve_url(url, self.base), o.id, o.poll_interval, o.full_text, o.language))
        return out


def resolve_url(url: str, base: Path) -> str:
    """http(s) and file URLs as they are; plain paths relative to the registry's folder."""
    if "://" in url:
        return url
    return (base / url).resolve().as_uri()


def load_registry(path: Path) -> Registry:
    if not path.exists():
        raise ConfigError(f"{path}: no such registry file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    outlets = []
    ids: set[str] = set()
    for i, o in enumerate(data.get("outlets", [])):
        if "id" not in o or not o.get("feeds"):
            raise ConfigError(f"{path}: outlet #{i + 1} needs an id and at least one feed")
        if o["id"] in ids:
            raise ConfigError(f"{path}: outlet id {o['id']!r} appears twice")
        ids.add(o["id"])
        outlets.append(Outlet(id=str(o["id"]), name=str(o.get("name", o["id"])), homepage=str(o.get("homepage", "")),
                              language=o.get("language"), poll_interval=o.get("poll_interval"),
                              full_text=bool(o.get("full_text", False)), feeds=tuple(str(f) for f in o["feeds"])))
    return Registry(tuple(outlets), path.parent.resolve())


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def save_registry(registry: Registry, path: Path) -> None:
    lines = ["# Outlets and their feeds (written by newsrift feeds)."]
    for o in registry.outlets:
        lines += ["", "[[outlets]]", f"id = {_toml_str(o.id)}", f"name = {_toml_str(o.name)}"]
        if o.homepage:
            lines.append(f"homepage = {_toml_str(o.homepage)}")
        if o.language:
            lines.append(f"language = {_toml_str(o.language)}")
        if o.poll_interval:
            lines.append(f"poll_interval = {o.poll_interval}")
        if o.full_text:
            lines.append("full_text = true")
        lines.append("feeds = [" + ", ".join(_toml_str(f) for f in o.feeds) + "]")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)


def import_opml(path: Path) -> list[Outlet]:
    """Outlines with an xmlUrl become outlets (one feed each). DTDs and entities are refused (no expansion bombs)."""
    raw = path.read_bytes()
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ConfigError(f"{path}: OPML with a DTD or entities is refused")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        raise ConfigError(f"{path}: not valid OPML: {e}") from e
    outlets = []
    for node in root.iter("outline"):
        url = node.get("xmlUrl")
        if not url:
            continue
        title = node.get("title") or node.get("text") or url
        oid = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")[:40] or "outlet"
        outlets.append(Outlet(id=oid, name=title, homepage=node.get("htmlUrl", ""), feeds=(url,)))
    return outlets


def export_opml(registry: Registry) -> str:
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = "newsrift feeds"
    body = ET.SubElement(root, "body")
    for o in registry.outlets:
        for f in o.feeds:
            ET.SubElement(body, "outline", type="rss", text=o.name, title=o.name, xmlUrl=f, htmlUrl=o.homepage)
    return ET.tostring(root, encoding="unicode")
