"""The claim message between the event stage and the dispute stage, shared by both drivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.model import Claim


@dataclass(frozen=True)
class ClaimEnvelope:
    """A claim with its event and the reprint facts the dispute stage needs (carriers count once)."""

    claim: Claim
    duplicate_of: str | None = None
    carriers: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.claim.to_json() | {"duplicate_of": self.duplicate_of, "carriers": self.carriers}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ClaimEnvelope:
        body = {k: v for k, v in d.items() if k not in ("duplicate_of", "carriers")}
        claim = Claim.from_json(body)
        if not claim.event_id:
            raise ValueError("claim has no event_id")
        return cls(claim, d.get("duplicate_of"), {k: list(v) for k, v in (d.get("carriers") or {}).items()})


@dataclass(frozen=True)
class MoveMessage:
    """On news.claims.v1, keyed by the event articles left: a settle moved them (and these claims) to
    ``to_event``. The dispute stage hands the claims on; the indexer points the claim documents at the new event."""

    to_event: str
    article_ids: tuple[str, ...]
    claim_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"move": {"to": self.to_event, "articles": list(self.article_ids), "claims": list(self.claim_ids)}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MoveMessage:
        m = d.get("move")
        if not isinstance(m, dict) or not isinstance(m.get("to"), str) or not m["to"]:
            raise ValueError("move message without a target event ('move.to')")
        arts, claims = m.get("articles") or [], m.get("claims") or []
        if not all(isinstance(x, str) for x in [*arts, *claims]):
            raise ValueError("move message ids must be strings")
        return cls(m["to"], tuple(arts), tuple(claims))
