"""Records the dispute stage emits besides ``newsrift.model.Dispute``: changes and position changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from newsrift.model import Dispute, DisputeSide, _Json, format_time, parse_time

__all__ = ["ChangeKind", "DisputeChange", "PositionChange", "dispute_from_json"]

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
