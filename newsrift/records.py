"""The records that travel inside messages: plain data classes and their JSON codecs, nothing more.

``newsrift.messages`` wraps them (a dispute change on ``news.disputes.v1``, a handover on ``news.claims.v1``, an
alert retry on ``news.alerts.retry.v1``), so they live here at the bottom with ``newsrift.model``; the logic that
makes and reads them stays in the stages: ``newsrift.stages.disputes`` (the detector, ``state``'s ``EventDisputes``
holding ``DisputeRecord``s and ``PositionChange``s, ``moves`` building and taking ``Handover``s) and
``newsrift.stages.alerts.retry`` (the policy that schedules a ``Retry`` and decides what follows one).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from newsrift.errors import MessageError
from newsrift.model import (
    Claim,
    Dispute,
    DisputeKind,
    DisputeSide,
    DisputeStatus,
    _Json,
    format_time,
    parse_time,
)

__all__ = [
    "ChangeKind",
    "DisputeChange",
    "DisputeRecord",
    "Emitted",
    "Handover",
    "PositionChange",
    "Retry",
    "dispute_from_json",
]

# -- what the dispute stage emits (news.disputes.v1) and keeps of a speaker's changed position ------------------

# new: first time a dispute is reported; new_side: another speaker joined; new_kind: a stronger kind appeared
# (e.g. a denial after a "cannot confirm"); status: settled/stale/reopened; position: a side's speaker changed
# what they say (the side now quotes the new claim); updated: a side gained an outlet (a reprint arriving after the
# dispute was reported) or now quotes its speaker's latest wording of the same thing: the document changes, nobody
# is alerted.
ChangeKind = Literal["new", "new_side", "new_kind", "status", "position", "updated"]
CHANGE_KINDS: tuple[str, ...] = get_args(ChangeKind)


def _side_from_json(d: dict[str, Any]) -> DisputeSide:
    return DisputeSide(
        claim_id=d["claim_id"],
        article_id=d["article_id"],
        speaker=d["speaker"],
        quote=d["quote"],
        start=int(d["start"]),
        end=int(d["end"]),
        outlets=tuple(d.get("outlets", ())),
        polarity=d.get("polarity", "asserts"),
        published=parse_time(d.get("published")),
    )


def dispute_from_json(d: dict[str, Any]) -> Dispute:
    """Inverse of ``Dispute.to_json`` (newsrift/model.py has none for disputes)."""
    return Dispute(
        dispute_id=d["dispute_id"],
        event_id=d["event_id"],
        kind=d["kind"],
        topic=d["topic"],
        sides=tuple(_side_from_json(s) for s in d["sides"]),
        confidence=float(d["confidence"]),
        status=d.get("status", "new"),
        first_seen=parse_time(d.get("first_seen")),
        last_updated=parse_time(d.get("last_updated")),
        notes=tuple(d.get("notes", ())),
    )


@dataclass(frozen=True)
class DisputeChange:
    """What the dispute stage emits: the dispute as it now stands and why it is being emitted."""

    dispute: Dispute
    change: ChangeKind

    def to_json(self) -> dict[str, Any]:
        return {"change": self.change, "dispute": self.dispute.to_json()}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DisputeChange:
        change = d["change"]
        if change not in CHANGE_KINDS:
            raise ValueError(f"unknown dispute change {change!r}")
        return cls(dispute=dispute_from_json(d["dispute"]), change=change)


@dataclass(frozen=True)
class PositionChange(_Json):
    """A speaker who said one thing and later something incompatible about the same slot."""

    event_id: str
    speaker: str
    slot: str
    kind: str
    before_claim_id: str
    after_claim_id: str
    before_quote: str
    after_quote: str
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        # Written out (not the generic walk): an event's state holds up to 200 of these and is encoded per message.
        return {"event_id": self.event_id, "speaker": self.speaker, "slot": self.slot, "kind": self.kind,
                "before_claim_id": self.before_claim_id, "after_claim_id": self.after_claim_id,
                "before_quote": self.before_quote, "after_quote": self.after_quote, "at": format_time(self.at)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PositionChange:
        return cls(
            event_id=d["event_id"],
            speaker=d["speaker"],
            slot=d["slot"],
            kind=d["kind"],
            before_claim_id=d["before_claim_id"],
            after_claim_id=d["after_claim_id"],
            before_quote=d["before_quote"],
            after_quote=d["after_quote"],
            at=parse_time(d.get("at")),
        )


# -- one dispute of an event's state, as it moves with a handover (news.claims.v1) ------------------------------

def _time(value: str | None) -> datetime:
    when = parse_time(value)
    if when is None:
        raise ValueError("a dispute record without its times")
    return when


def _text(when: datetime) -> str:
    text = format_time(when)
    assert text is not None
    return text


@dataclass
class Emitted:
    """What the last change emitted for a dispute said: the speakers and the side claims, kind, status, outlets.
    The next refresh compares with it to name its change (``new_side``, ``status``, ``updated``, ...)."""

    speakers: list[str]
    sides: list[str]
    kind: DisputeKind
    status: DisputeStatus
    outlets: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"speakers": list(self.speakers), "sides": list(self.sides), "kind": self.kind,
                "status": self.status, "outlets": list(self.outlets)}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Emitted:
        return cls(list(d["speakers"]), list(d["sides"]), d["kind"], d["status"], list(d["outlets"]))


@dataclass
class DisputeRecord:
    """One question of the event (``family`` and ``anchor``) with the claims that answer it (``members``)."""

    family: str
    anchor: str
    members: list[str]
    kinds: list[str]
    """Every kind of conflict seen between its members; ``kind`` is the strongest live one."""
    kind: DisputeKind
    status: DisputeStatus
    confidence: float
    first_seen: datetime
    last_updated: datetime
    notes: list[str] = field(default_factory=list)
    emitted: Emitted | None = None
    """None until the dispute was first reported."""

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "anchor": self.anchor,
            "members": list(self.members),
            "kinds": list(self.kinds),
            "kind": self.kind,
            "status": self.status,
            "confidence": self.confidence,
            "first_seen": _text(self.first_seen),
            "last_updated": _text(self.last_updated),
            "notes": list(self.notes),
            "emitted": None if self.emitted is None else self.emitted.to_json(),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> DisputeRecord:
        emitted = d["emitted"]
        return cls(
            family=str(d["family"]),
            anchor=str(d["anchor"]),
            members=list(d["members"]),
            kinds=list(d["kinds"]),
            kind=d["kind"],
            status=d["status"],
            confidence=float(d["confidence"]),
            first_seen=_time(d["first_seen"]),
            last_updated=_time(d["last_updated"]),
            notes=list(d["notes"]),
            emitted=None if emitted is None else Emitted.from_json(emitted),
        )


# -- claims and disputes moving between events (news.claims.v1) -------------------------------------------------

@dataclass(frozen=True)
class Handover:
    """What ``move_out`` (``newsrift.stages.disputes.moves``) hands to the event the claims moved to: the claims
    with their outlets, and the dispute records that moved whole. On the wire it is
    ``newsrift.messages.HandoverMessage``."""

    claims: list[tuple[Claim, list[str]]]
    disputes: dict[str, DisputeRecord] = field(default_factory=dict)

    def to(self, event_id: str) -> Handover:
        """The same handover addressed to ``event_id``: its claims carry that event's id."""
        return Handover([(dataclasses.replace(c, event_id=event_id), o) for c, o in self.claims], self.disputes)

    def pieces(self, size: int) -> list[Handover]:
        """At most ``size`` claims each (an event holds up to 500), the disputes with the first."""
        return [Handover(self.claims[i : i + size], self.disputes if i == 0 else {})
                for i in range(0, len(self.claims), size)]


# -- an alert one sink refused for now (news.alerts.retry.v1) ---------------------------------------------------

@dataclass(frozen=True)
class Retry(_Json):
    """One alert owed to one sink (schema ``schemas/alert_retry.v1.schema.json``). ``attempt`` numbers this retry
    (1 = the first after the alerts agent's own tries); ``error`` is the last refusal."""

    sink: str
    alert: dict[str, Any]
    attempt: int
    first_failed: datetime
    due: datetime
    error: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Retry:
        if not isinstance(d, dict):
            raise MessageError(f"invalid retry: expected an object, got {type(d).__name__}")
        sink, alert, attempt, error = d["sink"], d["alert"], d["attempt"], d.get("error", "")
        if not isinstance(sink, str) or not sink:
            raise MessageError("invalid retry: 'sink' must be a sink name")
        if not isinstance(alert, dict) or not isinstance(alert.get("alert_id"), str):
            raise MessageError("invalid retry: 'alert' must be an alert object with an alert_id")
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
            raise MessageError(f"invalid retry: 'attempt' must be a positive integer, got {attempt!r}"[:200])
        if not isinstance(error, str):
            raise MessageError("invalid retry: 'error' must be a string")
        first_failed, due = parse_time(d["first_failed"]), parse_time(d["due"])
        if first_failed is None or due is None:
            raise MessageError("invalid retry: 'first_failed' and 'due' are required times")
        return cls(sink=sink, alert=alert, attempt=attempt, first_failed=first_failed, due=due, error=error)

    def describe(self) -> str:
        """Why it ends in the dead-letter topic, for the record's ``error``."""
        return (f"gave up after {self.attempt} retries since {format_time(self.first_failed)}; "
                f"last error: {self.error}")
