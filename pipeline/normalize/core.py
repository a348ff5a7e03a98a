"""Raw feed item -> normalised article: plain text from HTML, one whitespace style, content hash, aware dates."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import datetime
from html.parser import HTMLParser

from pipeline.errors import ProcessingError
from pipeline.model import Article, RawArticle

__all__ = ["MAX_TEXT_CHARS", "content_hash", "guess_language", "html_to_text", "normalise"]

MAX_TEXT_CHARS = 1_000_000
_BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article"}
_SKIP = {"script", "style", "noscript", "template", "iframe", "svg"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_EN_STOP = frozenset(
    "the of and to in a is that for on was with said as by at from it be has have are were he his not this which "
    "but an they their or who had its been after also".split()
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text with one newline between blocks and single spaces inside them."""
    if "<" in markup:
        parser = _TextExtractor()
        parser.feed(markup)
        parser.close()
        text = "".join(parser.parts)
    else:
        text = html.unescape(markup)
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()


def content_hash(text: str) -> str:
    """Hash of the words alone, so whitespace and case edits do not make a new version."""
    words = re.findall(r"\w+", text.lower())
    return hashlib.sha1(" ".join(words).encode("utf-8")).hexdigest()


def guess_language(text: str, declared: str | None) -> str | None:
    """The feed's declared language, else 'en' when English function words dominate, else None (unknown)."""
    if declared:
        return declared.split("-")[0].lower()
    words = re.findall(r"[a-zA-Z]+", text[:5000].lower())
    if len(words) < 5:
        return None
    share = sum(w in _EN_STOP for w in words) / len(words)
    return "en" if share > 0.15 else None


def normalise(raw: RawArticle, now: datetime) -> Article:
    """Normalise one raw article; ``ProcessingError`` says why an item cannot become an article."""
    source = raw.content or raw.summary or ""
    text = html_to_text(source)
    if not text:
        raise ProcessingError(f"article {raw.article_id} has no text (no content and no summary)")
    if len(text) > MAX_TEXT_CHARS:
        raise ProcessingError(f"article {raw.article_id} text has {len(text)} characters, over {MAX_TEXT_CHARS}")
    return Article(
        article_id=raw.article_id,
        outlet_id=raw.outlet_id,
        url=raw.url,
        title=html_to_text(raw.title).replace("\n", " "),
        text=text,
        content_hash=content_hash(text),
        published=raw.published or raw.fetched_at or now,
        language=guess_language(text, raw.language),
        author=raw.author,
        ingested_at=now,
        revision=raw.revision,
    )
