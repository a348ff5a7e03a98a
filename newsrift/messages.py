"""Every message on newsrift's Kafka topics: a class per message, a ``type`` tag on the wire, one decoder per topic.

A message is a JSON object whose ``type`` names its class; the other keys are the message's body. Each topic has
one decoder (``decoder(topic)``) that accepts only the types the topic carries and returns the typed message, so a
stage matches on classes, never on which keys happen to be present. A message that does not decode (not JSON, no
or another ``type``, a missing or malformed field) is a ``MessageError`` with the reason, which the stages
dead-letter.

| topic | messages |
|---|---|
| ``news.articles.raw.v1`` | ``RawArticleMessage`` |
| ``news.articles.v1`` | ``AnalysedArticle`` |
| ``news.assign.v1`` | ``AnalysedArticle``, ``SettleTick`` |
| ``news.placements.v1`` | ``PlacementMessage`` |
| ``news.events.v1`` | ``EventMessage`` |
| ``news.claims.v1`` | ``ClaimMessage``, ``MoveMessage``, ``HandoverMessage``, ``SweepTick`` |
| ``news.disputes.v1`` | ``DisputeChangeMessage`` |
| ``news.alerts.v1`` | ``AlertMessage`` |
| ``news.alerts.retry.v1`` | ``AlertRetryMessage`` |

The ``.dlq`` twins carry dead-letter envelopes, tagged ``failed_message`` or ``failed_alert`` and decoded by
``newsrift.dead_letters.decode_dead_letter``, not messages of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from newsrift import topics
from newsrift.errors import MessageError
from newsrift.model import Article, Claim, Event, RawArticle, format_time, parse_time
from newsrift.records import DisputeChange, DisputeRecord, Handover, Retry
from newsrift.streaming import decode, encode_message

__all__ = [
    "DECODERS",
    "AlertMessage",
    "AlertRetryMessage",
    "AnalysedArticle",
    "ClaimMessage",
    "DisputeChangeMessage",
    "EventMessage",
    "HandoverMessage",
    "Message",
    "MoveMessage",
    "PlacementMessage",
    "RawArticleMessage",
    "SettleTick",
    "SweepTick",
    "TopicDecoder",
    "decoder",
    "encode",
]


class Message:
    """A message of a topic: ``TYPE`` is its tag on the wire, ``body()`` the rest of its JSON object."""

    TYPE: ClassVar[str]

    def body(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def parse(cls, body: dict[str, Any]) -> Message:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"type": self.TYPE, **self.body()}


def encode(message: Message, what: str | None = None) -> bytes:
    """The message as strict JSON, refused (``ProcessingError``) when over Kafka's limit; ``what`` names it there."""
    return encode_message(message.to_json(), what or f"the {message.TYPE} message")


def _time(body: dict[str, Any], key: str, what: str) -> datetime:
    value = body[key]
    if not isinstance(value, str):
        raise MessageError(f"{what}: '{key}' must be an ISO 8601 time string, not {type(value).__name__}")
    when = parse_time(value)
    if when is None:
        raise MessageError(f"{what}: '{key}' is not a time")
    return when


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise MessageError(f"{what} must be a list of strings")
    return tuple(value)


def _carriers(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(f"'carriers' must be an object, not {type(value).__name__}")
    return {str(k): list(_strings(v, "each entry of 'carriers'")) for k, v in value.items()}


# -- news.articles.raw.v1 ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawArticleMessage(Message):
    """A feed item as a connector saw it (``schemas/raw_article.v1.schema.json``)."""

    TYPE: ClassVar[str] = "raw_article"
    raw: RawArticle

    def body(self) -> dict[str, Any]:
        return self.raw.to_json()

    @classmethod
    def parse(cls, body: dict[str, Any]) -> RawArticleMessage:
        return cls(RawArticle.from_json(body))


# -- news.articles.v1 and news.assign.v1 ------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysedArticle(Message):
    """A normalised article with its claims (no event yet)."""

    TYPE: ClassVar[str] = "analysed_article"
    article: Article
    claims: tuple[Claim, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"article": self.article.to_json(), "claims": [c.to_json() for c in self.claims]}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> AnalysedArticle:
        if not isinstance(body.get("article"), dict):
            raise MessageError("missing field 'article'")
        claims = body.get("claims") or []
        if not isinstance(claims, list):
            raise MessageError(f"'claims' must be a list, not {type(claims).__name__}")
        return cls(Article.from_json(body["article"]), tuple(Claim.from_json(c) for c in claims))


@dataclass(frozen=True)
class SettleTick(Message):
    """Asks the assign stage to settle what came since its last settle (``settle_events``, every
    ``NEWSRIFT_SETTLE_SECONDS``), at one place in the ordered assign topic."""

    TYPE: ClassVar[str] = "settle"
    at: datetime

    def body(self) -> dict[str, Any]:
        return {"at": format_time(self.at)}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SettleTick:
        return cls(_time(body, "at", "settle tick"))


# -- news.placements.v1, news.events.v1 -------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementMessage(Message):
    """Where an article landed: its event, the copy it reprints, the outlets carrying its story."""

    TYPE: ClassVar[str] = "placement"
    article_id: str
    event_id: str
    duplicate_of: str | None = None
    similarity: float | None = None
    carriers: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "event_id": self.event_id, "duplicate_of": self.duplicate_of,
                "similarity": self.similarity, "carriers": list(self.carriers)}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> PlacementMessage:
        article_id, event_id, dup = body["article_id"], body["event_id"], body.get("duplicate_of")
        if not isinstance(article_id, str) or not isinstance(event_id, str) or not article_id or not event_id:
            raise MessageError("placement: 'article_id' and 'event_id' must be non-empty strings")
        if dup is not None and not isinstance(dup, str):
            raise MessageError("placement: 'duplicate_of' must be a string or null")
        sim = body.get("similarity")
        if sim is not None and (isinstance(sim, bool) or not isinstance(sim, (int, float))):
            raise MessageError("placement: 'similarity' must be a number or null")
        return cls(article_id, event_id, dup, None if sim is None else float(sim),
                   _strings(body.get("carriers") or [], "placement: 'carriers'"))


@dataclass(frozen=True)
class EventMessage(Message):
    """An event record (an upsert of the whole record)."""

    TYPE: ClassVar[str] = "event"
    event: Event

    def body(self) -> dict[str, Any]:
        return self.event.to_json()

    @classmethod
    def parse(cls, body: dict[str, Any]) -> EventMessage:
        return cls(Event.from_json(body))


# -- news.claims.v1 ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimMessage(Message):
    """A claim with its event and the reprint facts the dispute stage needs (carriers count once)."""

    TYPE: ClassVar[str] = "claim"
    claim: Claim
    duplicate_of: str | None = None
    carriers: dict[str, list[str]] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return self.claim.to_json() | {"duplicate_of": self.duplicate_of, "carriers": self.carriers}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ClaimMessage:
        claim = Claim.from_json({k: v for k, v in body.items() if k not in ("duplicate_of", "carriers")})
        if not claim.event_id:
            raise MessageError("claim has no event_id")
        dup = body.get("duplicate_of")
        if dup is not None and not isinstance(dup, str):
            raise MessageError("claim: 'duplicate_of' must be a string or null")
        return cls(claim, dup, _carriers(body.get("carriers")))


@dataclass(frozen=True)
class MoveMessage(Message):
    """Keyed by the event the articles left: a settle moved them (and these claims) to ``to_event``. The dispute
    stage hands the claims on; the indexer points the claim documents at the new event."""

    TYPE: ClassVar[str] = "move"
    to_event: str
    article_ids: tuple[str, ...]
    claim_ids: tuple[str, ...]

    def body(self) -> dict[str, Any]:
        return {"to": self.to_event, "articles": list(self.article_ids), "claims": list(self.claim_ids)}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> MoveMessage:
        to = body.get("to")
        if not isinstance(to, str) or not to:
            raise MessageError("move message without a target event ('to')")
        return cls(to, _strings(body.get("articles") or [], "move message: 'articles'"),
                   _strings(body.get("claims") or [], "move message: 'claims'"))


@dataclass(frozen=True)
class HandoverMessage(Message):
    """Keyed by the event claims moved to: the claims with their outlets, and the disputes that moved whole (each
    as ``DisputeRecord.to_json`` writes it in an event's state)."""

    TYPE: ClassVar[str] = "handover"
    handover: Handover

    def body(self) -> dict[str, Any]:
        return {"claims": [{"claim": c.to_json(), "outlets": o} for c, o in self.handover.claims],
                "disputes": {did: r.to_json() for did, r in self.handover.disputes.items()}}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> HandoverMessage:
        items, disputes = body["claims"], body.get("disputes") or {}
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise MessageError("handover: 'claims' must be a list of objects")
        if not isinstance(disputes, dict):
            raise MessageError("handover: 'disputes' must be an object")
        claims = [(Claim.from_json(x["claim"]), list(_strings(x.get("outlets") or [], "handover: 'outlets'")))
                  for x in items]
        if any(not c.event_id for c, _ in claims):
            raise MessageError("handed-over claim without event_id")
        return cls(Handover(claims, {str(did): DisputeRecord.from_json(r) for did, r in disputes.items()}))


@dataclass(frozen=True)
class SweepTick(Message):
    """Asks the dispute stage to mark an event's quiet disputes stale (``sweep_disputes``), on the partition that
    owns the event."""

    TYPE: ClassVar[str] = "sweep"
    at: datetime

    def body(self) -> dict[str, Any]:
        return {"at": format_time(self.at)}

    @classmethod
    def parse(cls, body: dict[str, Any]) -> SweepTick:
        return cls(_time(body, "at", "sweep tick"))


# -- news.disputes.v1, news.alerts.v1, news.alerts.retry.v1 -----------------------------------------------------


@dataclass(frozen=True)
class DisputeChangeMessage(Message):
    """A dispute as it stands after a change (``change``: new, new_side, status, ...)."""

    TYPE: ClassVar[str] = "dispute_change"
    change: DisputeChange

    def body(self) -> dict[str, Any]:
        return self.change.to_json()

    @classmethod
    def parse(cls, body: dict[str, Any]) -> DisputeChangeMessage:
        return cls(DisputeChange.from_json(body))


@dataclass(frozen=True)
class AlertMessage(Message):
    """An alert record as the alert index stores it (``schemas/alert.v1.schema.json``)."""

    TYPE: ClassVar[str] = "alert"
    record: dict[str, Any]

    def body(self) -> dict[str, Any]:
        return dict(self.record)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> AlertMessage:
        if not isinstance(body.get("alert_id"), str) or not body["alert_id"]:
            raise MessageError("alert: 'alert_id' must be a non-empty string")
        return cls(body)


@dataclass(frozen=True)
class AlertRetryMessage(Message):
    """An alert a sink refused for now, with the time of its next try (``schemas/alert_retry.v1.schema.json``)."""

    TYPE: ClassVar[str] = "alert_retry"
    retry: Retry

    def body(self) -> dict[str, Any]:
        return self.retry.to_json()

    @classmethod
    def parse(cls, body: dict[str, Any]) -> AlertRetryMessage:
        return cls(Retry.from_json(body))


# -- decoders ---------------------------------------------------------------------------------------------------

M = TypeVar("M", bound=Message)


class TopicDecoder(Generic[M]):
    """Decodes the messages of one topic: JSON, a ``type`` the topic carries, and that class's fields."""

    def __init__(self, topic: str, *types: type[Message]) -> None:
        self.topic = topic
        self.types: dict[str, type[Message]] = {t.TYPE: t for t in types}

    def __call__(self, value: bytes | str | None) -> M:
        return decode(value, self._parse)  # type: ignore[return-value]

    def _parse(self, data: dict[str, Any]) -> Message:
        tag = data.get("type")
        cls = self.types.get(tag) if isinstance(tag, str) else None
        if cls is None:
            found = "no 'type'" if tag is None else f"type {str(tag)[:60]!r}"
            raise MessageError(f"{found} on {self.topic}, which carries {', '.join(sorted(self.types))}")
        return cls.parse({k: v for k, v in data.items() if k != "type"})


RAW_ARTICLES: TopicDecoder[RawArticleMessage] = TopicDecoder(topics.RAW_ARTICLES, RawArticleMessage)
ARTICLES: TopicDecoder[AnalysedArticle] = TopicDecoder(topics.ARTICLES, AnalysedArticle)
ASSIGN: TopicDecoder[AnalysedArticle | SettleTick] = TopicDecoder(topics.ASSIGN, AnalysedArticle, SettleTick)
PLACEMENTS: TopicDecoder[PlacementMessage] = TopicDecoder(topics.PLACEMENTS, PlacementMessage)
EVENTS: TopicDecoder[EventMessage] = TopicDecoder(topics.EVENTS, EventMessage)
CLAIMS: TopicDecoder[ClaimMessage | MoveMessage | HandoverMessage | SweepTick] = TopicDecoder(
    topics.CLAIMS, ClaimMessage, MoveMessage, HandoverMessage, SweepTick)
DISPUTES: TopicDecoder[DisputeChangeMessage] = TopicDecoder(topics.DISPUTES, DisputeChangeMessage)
ALERTS: TopicDecoder[AlertMessage] = TopicDecoder(topics.ALERTS, AlertMessage)
ALERT_RETRY: TopicDecoder[AlertRetryMessage] = TopicDecoder(topics.ALERT_RETRY, AlertRetryMessage)

DECODERS: dict[str, TopicDecoder[Any]] = {d.topic: d for d in (
    RAW_ARTICLES, ARTICLES, ASSIGN, PLACEMENTS, EVENTS, CLAIMS, DISPUTES, ALERTS, ALERT_RETRY)}
"""The decoder of each topic, by its unprefixed name."""


def decoder(topic: str) -> TopicDecoder[Any]:
    """The decoder of ``topic`` (unprefixed name, e.g. ``news.claims.v1``)."""
    try:
        return DECODERS[topic]
    except KeyError:
        raise MessageError(f"no messages are defined for topic {topic}") from None
