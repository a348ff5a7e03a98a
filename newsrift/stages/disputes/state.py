"""One event's dispute state: typed records and their one JSON codec.

The records it holds (``DisputeRecord`` with its ``Emitted``, ``PositionChange``) live in ``newsrift.records``, at
the bottom: a handover carries dispute records between events on ``news.claims.v1``.

The detector works on an ``EventDisputes``; a driver keeps one per event. The streaming driver stores
``state.to_json()`` as the event's value in the ``disputes-by-event`` Faust table and reads it back with
``EventDisputes.from_json`` (a table value must be JSON, and a value is only seen by the changelog when it is set
whole); the batch driver keeps the objects in a dict. ``from_json(state.to_json())`` equals ``state``.

The JSON layout (version 1)::

    v          1
    event_id   the event these claims belong to ("" until its first claim)
    seq        arrival counter
    claims     {claim_id: StoredClaim}     {"c": claim JSON, "s": speaker key, "o": [outlets], "n": arrival seq}
    order      [claim_id]                  arrival order of the stored claims
    alias      {claim_id: claim_id}        reprints folded into an earlier claim
    disputes   {dispute_id: DisputeRecord} {"family", "anchor", "members", "kinds", "kind", "status", "confidence",
                                            "first_seen", "last_updated", "notes", "emitted": Emitted | null}
    positions  [PositionChange JSON]
    seen       latest ``now`` anything reached the event with (null before that)
    moved      {claim_id: event_id}        claims whose article a settle moved away before the claim arrived here

Any other value is refused (``ValueError``): there is no other layout to read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsrift.model import Claim, format_time, parse_time
from newsrift.records import DisputeRecord, PositionChange

__all__ = ["STATE_VERSION", "EventDisputes", "StoredClaim"]

STATE_VERSION = 1


@dataclass
class StoredClaim:
    """A claim of the event with what the detector adds to it.

    ``data`` is the claim as ``Claim.to_json`` wrote it, kept in that form (and never changed in place): a streaming
    state is decoded and encoded whole on every message, and turning up to ``max_claims`` claims into ``Claim``
    objects and back each time would cost more than the detection. ``claim`` decodes it where a ``Claim`` is needed.
    """

    data: dict[str, Any]
    speaker: str
    """The speaker key within the event (a surname alone is the full name met before)."""
    outlets: list[str]
    """Sorted outlets that carried the claim: the article's carriers, reprints folded into it, trimmed repeats."""
    seq: int
    """Arrival number within the event (0 for a claim viewed from a handover)."""

    @property
    def claim_id(self) -> str:
        return str(self.data["claim_id"])

    @property
    def published(self) -> datetime | None:
        return parse_time(self.data.get("published"))

    @property
    def claim(self) -> Claim:
        return Claim.from_json(self.data)

    def add_outlets(self, outlets: Sequence[str]) -> bool:
        """Add carriers; True when one was new."""
        merged = sorted(set(self.outlets) | set(outlets))
        if merged == self.outlets:
            return False
        self.outlets = merged
        return True

    def to_json(self) -> dict[str, Any]:
        return {"c": self.data, "s": self.speaker, "o": list(self.outlets), "n": self.seq}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> StoredClaim:
        return cls(dict(d["c"]), str(d["s"]), list(d["o"]), int(d["n"]))


@dataclass
class EventDisputes:
    """Everything the detector keeps for one event (see the module docstring for the JSON form)."""

    event_id: str = ""
    seq: int = 0
    claims: dict[str, StoredClaim] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    alias: dict[str, str] = field(default_factory=dict)
    disputes: dict[str, DisputeRecord] = field(default_factory=dict)
    positions: list[PositionChange] = field(default_factory=list)
    seen: datetime | None = None
    moved: dict[str, str] = field(default_factory=dict)

    def start(self, event_id: str | None) -> None:
        """Name the event on its first claim (a state that so far held only redirects is a fresh one)."""
        if self.seq == 0 and not self.claims:
            self.event_id = event_id or ""

    def mark_seen(self, now: datetime) -> None:
        self.seen = now if self.seen is None else max(self.seen, now)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "event_id": self.event_id,
            "seq": self.seq,
            "claims": {cid: c.to_json() for cid, c in self.claims.items()},
            "order": list(self.order),
            "alias": dict(self.alias),
            "disputes": {did: d.to_json() for did, d in self.disputes.items()},
            "positions": [p.to_json() for p in self.positions],
            "seen": format_time(self.seen),
            "moved": dict(self.moved),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> EventDisputes:
        """The state ``to_json`` wrote (fresh objects throughout: changing them leaves ``d`` as it was)."""
        if d.get("v") != STATE_VERSION:
            raise ValueError(f"unknown dispute state version {d.get('v')!r}")
        try:
            return cls(
                event_id=str(d["event_id"]),
                seq=int(d["seq"]),
                claims={cid: StoredClaim.from_json(c) for cid, c in d["claims"].items()},
                order=list(d["order"]),
                alias=dict(d["alias"]),
                disputes={did: DisputeRecord.from_json(r) for did, r in d["disputes"].items()},
                positions=[PositionChange.from_json(p) for p in d["positions"]],
                seen=parse_time(d["seen"]),
                moved=dict(d["moved"]),
            )
        except KeyError as e:
            raise ValueError(f"dispute state version {STATE_VERSION} without {e}") from None
