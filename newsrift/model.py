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

from newsrift.errors import MessageError

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
DisputeStatus = Literal["new", "growing", "settled", "stale", "withdrawn"]

T = TypeVar("T")


def stable_id(*parts: str, length: int = 20) -> str:
    """Deterministic id from its parts (DESIGN rule 4); the same parts give the same id on every worker."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:length]


def parse_time(value: str | None) -> datetime | None:
    """ISO 8601 to an aware datetime; naive values are taken as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 time string, got {type(value).__name__} {_short(value)}")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_INT64 = 2**63 - 1


def _str(d: dict[str, Any], key: str, *, required: bool = False, empty: bool = True) -> str | None:
    """``d[key]`` as a string (or None when absent and optional); any other type is a ``MessageError``."""
    if key not in d and required:
        raise KeyError(key)
    value = d.get(key)
    if value is None:
        if required:
            raise MessageError(f"field {key!r} must be a string, not null")
        return None
    if not isinstance(value, str):
        raise MessageError(f"field {key!r} must be a string, not {type(value).__name__} {_short(value)}")
    if not empty and not value:
        raise MessageError(f"field {key!r} must not be empty")
    return value


def _time(d: dict[str, Any], key: str) -> datetime | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise MessageError(f"field {key!r} must be an ISO 8601 time string, not {type(value).__name__} "
                           f"{_short(value)}")
    try:
        return parse_time(value)
    except ValueError as e:
        raise MessageError(f"field {key!r} is not an ISO 8601 time: {_short(value)}") from e


def _int(d: dict[str, Any], key: str, default: int = 0, minimum: int = -_INT64) -> int:
    """``d[key]`` as an integer in [minimum, 2**63 - 1] (what Elasticsearch's ``long`` holds)."""
    value = d.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MessageError(f"field {key!r} must be an integer, not {type(value).__name__} {_short(value)}")
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        number = int(value)
    except (ValueError, OverflowError) as e:
        raise MessageError(f"field {key!r} must be an integer, not {_short(value)}") from e
    if not minimum <= number <= _INT64:
        raise MessageError(f"field {key!r} is out of range ({minimum} to {_INT64}): {_short(value)}")
    return number


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
        """Every field checked against ``schemas/raw_article.v1.schema.json``: a wrong type is a ``MessageError``
        naming the field (a feed item is outside input, and one with a number for a date must not crash a stage)."""
        fallback = d.get("published_is_fallback", False)
        if not isinstance(fallback, bool) and fallback is not None:
            raise MessageError(f"field 'published_is_fallback' must be a boolean, not {type(fallback).__name__}")
        return cls(
            article_id=_str(d, "article_id", required=True, empty=False) or "",
            outlet_id=_str(d, "outlet_id", required=True, empty=False) or "",
            url=_str(d, "url", required=True) or "",
            title=_str(d, "title") or "",
            feed_url=_str(d, "feed_url"),
            guid=_str(d, "guid"),
            summary=_str(d, "summary"),
            content=_str(d, "content"),
            author=_str(d, "author"),
            language=_str(d, "language"),
            published=_time(d, "published"),
            published_is_fallback=bool(fallback),
            fetched_at=_time(d, "fetched_at"),
            revision=_int(d, "revision", minimum=0),
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
        entities = d.get("entities") or ()
        if not isinstance(entities, (list, tuple)):
            raise MessageError(f"field 'entities' must be a list, not {type(entities).__name__}")
        return cls(
            article_id=_str(d, "article_id", required=True, empty=False) or "",
            outlet_id=_str(d, "outlet_id", required=True, empty=False) or "",
            url=_str(d, "url", required=True) or "",
            title=_str(d, "title") or "",
            text=_str(d, "text", required=True) or "",
            content_hash=_str(d, "content_hash", required=True) or "",
            published=_time(d, "published"),
            language=_str(d, "language"),
            author=_str(d, "author"),
            ingested_at=_time(d, "ingested_at"),
            revision=_int(d, "revision"),
            sentences=_int(d, "sentences"),
            entities=tuple(Entity.from_json(e) for e in entities),
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
    # A denial that only points back ("denounced these baseless allegations"): the words of the account it denies,
    # told just before it in the article. ``text`` stays inside the quote; the rules read both.
    refers_to: str | None = None
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
            refers_to=d.get("refers_to"),
            hedges=tuple(d.get("hedges", ())),
            quantities=tuple(Quantity.from_json(q) for q in d.get("quantities", ())),
            actors=tuple(d.get("actors", ())),
            action=d.get("action"),
            places=tuple(d.get("places", ())),
            times=tuple(d.get("times", ())),
            event_id=d.get("event_id"),
            published=_time(d, "published"),
            quote=d.get("quote"),
        )


@dataclass(frozen=True)
class Event(_Json):
    event_id: str
    title: str
    article_ids: tuple[str, ...]
    """The most recent articles (up to ``ClusterConfig.listed_articles``); ``article_count`` counts them all."""
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    merged_into: str | None = None
    article_count: int = 0

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Event:
        ids = tuple(d.get("article_ids") or ())
        return cls(
            event_id=d["event_id"],
            title=d.get("title") or "",
            article_ids=ids,
            article_count=int(d.get("article_count") or len(ids)),
            first_seen=_time(d, "first_seen"),
            last_seen=_time(d, "last_seen"),
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
