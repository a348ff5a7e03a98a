"""Values that flow between stages: frozen dataclasses, JSON in and out, no Faust, no I/O.

Every ``to_json`` produces exactly the shape that ``schemas/<name>.v1.schema.json`` describes; the contract tests
check both directions. Datetimes are timezone-aware and serialised as ISO 8601.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, TypeVar

__all__ = [
    "Article",
    "Claim",
    "Dispute",
    "DisputeSide",
    "Entity",
    "Event",
    "Quantity",
    "RawArticle",
    "format_time",
    "parse_time",
    "stable_id",
]

Polarity = Literal["asserts", "denies", "no_knowledge"]
DisputeKind = Literal["numeric", "polarity", "attribution", "non_confirmation", "other"]
DisputeStatus = Literal["new", "growing", "settled", "stale"]

T = TypeVar("T")


def stable_id(*parts: str, length: int = 20) -> str:
    """Deterministic id from its parts (DESIGN rule 4); the same parts give the same id on every worker."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:length]


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 to an aware datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: newsrift only handles timezone-aware times")
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _to_json(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return format_time(obj)
    if isinstance(obj, (list, tuple)):
        return [_to_json(v) for v in obj]
    return obj


class _Json:
    def to_json(self) -> dict[str, Any]:
        out = _to_json(self)
        assert isinstance(out, dict)
        return out


@dataclass(frozen=True)
class RawArticle(_Json):
    """One feed item as a connector saw it (topic ``news.articles.raw.v1``)."""

    article_id: str
    outlet_id: str
    url: str
    title: str
    feed_url: str | None = None
    guid: str | None = None
    summary: str | None = None
    content: str | None = None
    author: str | None = None
    language: str | None = None
    published: datetime | None = None
    published_is_fallback: bool = False
    fetched_at: datetime | None = None
    revision: int = 0

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RawArticle:
        return cls(
            article_id=str(d["article_id"]),
            outlet_id=str(d["outlet_id"]),
            url=str(d["url"]),
            title=str(d.get("title") or ""),
            feed_url=d.get("feed_url"),
            guid=d.get("guid"),
            summary=d.get("summary"),
            content=d.get("content"),
            author=d.get("author"),
            language=d.get("language"),
            published=parse_time(d.get("published")),
            published_is_fallback=bool(d.get("published_is_fallback", False)),
            fetched_at=parse_time(d.get("fetched_at")),
            revision=int(d.get("revision", 0)),
        )


@dataclass(frozen=True)
class Entity(_Json):
    text: str
    label: str
    start: int
    end: int

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Entity:
        return cls(text=d["text"], label=d["label"], start=int(d["start"]), end=int(d["end"]))


@dataclass(frozen=True)
class Article(_Json):
    """A normalised article (topic ``news.articles.v1``); ``text`` is the exact string claim spans point into."""

    article_id: str
    outlet_id: str
    url: str
    title: str
    text: str
    content_hash: str
    published: datetime | None
    language: str | None = None
    author: str | None = None
    ingested_at: datetime | None = None
    revision: int = 0
    sentences: int = 0
    entities: tuple[Entity, ...] = ()

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Article:
        return cls(
            article_id=d["article_id"],
            outlet_id=d["outlet_id"],
            url=d["url"],
            title=d.get("title") or "",
            text=d["text"],
            content_hash=d["content_hash"],
            published=parse_time(d.get("published")),
            language=d.get("language"),
            author=d.get("author"),
            ingested_at=parse_time(d.get("ingested_at")),
            revision=int(d.get("revision", 0)),
            sentences=int(d.get("sentences", 0)),
            entities=tuple(Entity.from_json(e) for e in d.get("entities", ())),
        )


@dataclass(frozen=True)
class Quantity(_Json):
    """A number and what it counts: "over 100 casualties" -> low=100, high=None, approx=over, counted=casualties."""

    text: str
    low: float | None
    high: float | None
    approx: str  # exact | about | over | under | at_least | at_most | range | vague
    counted: str | None = None
    unit: str | None = None
    start: int = 0
    end: int = 0

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Quantity:
        return cls(
            text=d["text"],
            low=d.get("low"),
            high=d.get("high"),
            approx=d.get("approx", "exact"),
            counted=d.get("counted"),
            unit=d.get("unit"),
            start=int(d.get("start", 0)),
            end=int(d.get("end", 0)),
        )


@dataclass(frozen=True)
class Claim(_Json):
    """An attributed statement: who said what, with its exact span in the article text.

    ``quote`` is ``article.text[start:end]``: the whole statement (speaker, cue and content), what a reader is
    shown; ``text`` is the content alone (what was said), which the rules analyse.
    """

    claim_id: str
    article_id: str
    outlet_id: str
    speaker: str
    speaker_type: str  # person | organisation | government | officials | anonymous | media | outlet
    cue: str
    text: str
    start: int
    end: int
    polarity: Polarity = "asserts"
    direct: bool = False
    speaker_text: str | None = None
    carrier: str | None = None
    hedges: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    actors: tuple[str, ...] = ()
    action: str | None = None
    places: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    event_id: str | None = None
    published: datetime | None = None
    quote: str | None = None

    @property
    def statement(self) -> str:
        """The exact statement for display (older claims without a quote fall back to the content)."""
        return self.quote if self.quote is not None else self.text

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Claim:
        return cls(
            claim_id=d["claim_id"],
            article_id=d["article_id"],
            outlet_id=d["outlet_id"],
            speaker=d["speaker"],
            speaker_type=d.get("speaker_type", "outlet"),
            cue=d.get("cue", ""),
            text=d["text"],
            start=int(d["start"]),
            end=int(d["end"]),
            polarity=d.get("polarity", "asserts"),
            direct=bool(d.get("direct", False)),
            speaker_text=d.get("speaker_text"),
            carrier=d.get("carrier"),
            hedges=tuple(d.get("hedges", ())),
            quantities=tuple(Quantity.from_json(q) for q in d.get("quantities", ())),
            actors=tuple(d.get("actors", ())),
            action=d.get("action"),
            places=tuple(d.get("places", ())),
            times=tuple(d.get("times", ())),
            event_id=d.get("event_id"),
            published=parse_time(d.get("published")),
            quote=d.get("quote"),
        )


@dataclass(frozen=True)
class Event(_Json):
    event_id: str
    title: str
    article_ids: tuple[str, ...]
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    merged_into: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        return cls(
            event_id=d["event_id"],
            title=d.get("title") or "",
            article_ids=tuple(d.get("article_ids") or ()),
            first_seen=parse_time(d.get("first_seen")),
            last_seen=parse_time(d.get("last_seen")),
            merged_into=d.get("merged_into"),
        )


@dataclass(frozen=True)
class DisputeSide(_Json):
    claim_id: str
    article_id: str
    speaker: str
    quote: str
    start: int
    end: int
    outlets: tuple[str, ...] = ()
    polarity: Polarity = "asserts"
    published: datetime | None = None


@dataclass(frozen=True)
class Dispute(_Json):
    dispute_id: str
    event_id: str
    kind: DisputeKind
    topic: str
    sides: tuple[DisputeSide, ...]
    confidence: float
    status: DisputeStatus = "new"
    first_seen: datetime | None = None
    last_updated: datetime | None = None
    notes: tuple[str, ...] = field(default=())
