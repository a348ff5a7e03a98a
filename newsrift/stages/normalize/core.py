"""Raw feed item -> normalised article: plain text from HTML, one whitespace style, content hash, aware dates."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from datetime import datetime
from html.parser import HTMLParser

from newsrift.errors import ProcessingError
from newsrift.model import Article, RawArticle

__all__ = ["MAX_TEXT_CHARS", "MAX_TITLE_CHARS", "content_hash", "guess_language", "html_to_text", "normalise"]

MAX_TEXT_CHARS = 100_000
"""The longest article text (after HTML is stripped), about 16,000 English words: longer than nearly every news
article. Every message and table value derived from an article must stay under Kafka's 1,000,000-byte message
limit. Real prose analyses to about 4.6 bytes per character (ECB+ news and the seed story cut at 100,000
characters: 460 KB and 413 KB), the reprint record of a text of one-letter words to about 6 (590 KB). A text
dense with short claims or entities can reach 12 bytes per character; its analysed message is refused by the
900,000-byte check in ``newsrift.streaming`` and dead-lettered with that reason, as is a text over this limit."""
MAX_ID_CHARS = 128
MAX_URL_CHARS = 4096
MAX_TITLE_CHARS = 1000
MAX_AUTHOR_CHARS = 300
_BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "section", "article"}
_SKIP = {"script", "style", "noscript", "template", "iframe", "svg"}
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_NEWLINES = re.compile(r"\s*\n\s*")
# C0/C1 controls other than tab and newline (JSON writes each as a 6-byte escape) and lone surrogates (no UTF-8 form).
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
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
    text = _SURROGATES.sub("\ufffd", _CONTROLS.sub(" ", text))
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
    if declared and len(declared) <= 35:  # the longest language tag in use; anything longer is no tag
        return declared.split("-")[0].lower()
    words = re.findall(r"[a-zA-Z]+", text[:5000].lower())
    if len(words) < 5:
        return None
    share = sum(w in _EN_STOP for w in words) / len(words)
    return "en" if share > 0.15 else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def normalise(raw: RawArticle, now: datetime) -> Article:
    """Normalise one raw article; ``ProcessingError`` says why an item cannot become an article."""
    for name, value, limit in (("article_id", raw.article_id, MAX_ID_CHARS), ("outlet_id", raw.outlet_id, MAX_ID_CHARS),
                               ("url", raw.url, MAX_URL_CHARS)):
        if len(value) > limit:
            raise ProcessingError(f"article {raw.article_id[:MAX_ID_CHARS]}: {name} has {len(value)} characters, "
                                  f"over the limit of {limit}")
    source = raw.content or raw.summary or ""
    text = html_to_text(source)
    if not text:
        raise ProcessingError(f"article {raw.article_id} has no text (no content and no summary)")
    if len(text) > MAX_TEXT_CHARS:
        raise ProcessingError(f"article {raw.article_id} text has {len(text)} characters, over the limit of "
                              f"{MAX_TEXT_CHARS} (MAX_TEXT_CHARS: its analysis would not fit in a Kafka message)")
    return Article(
        article_id=raw.article_id,
        outlet_id=raw.outlet_id,
        url=_SURROGATES.sub("\ufffd", raw.url),
        title=_clip(html_to_text(raw.title).replace("\n", " "), MAX_TITLE_CHARS),
        text=text,
        content_hash=content_hash(text),
        published=raw.published or raw.fetched_at or now,
        language=guess_language(text, raw.language),
        author=_clip(raw.author, MAX_AUTHOR_CHARS) if raw.author else raw.author,
        ingested_at=now,
        revision=raw.revision,
    )
