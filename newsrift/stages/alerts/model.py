"""The alert record (topic ``news.alerts.v1``): one per meaningful dispute change, with a deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsrift.model import Dispute, _Json, parse_time
from newsrift.records import dispute_from_json

__all__ = ["Alert"]


@dataclass(frozen=True)
class Alert(_Json):
    """What watchers are told. ``alert_id`` is stable for (dispute, change, sides), so replays dedupe on it."""

    alert_id: str
    dispute_id: str
    event_id: str
    change: str
    kind: str
    status: str
    topic: str
    confidence: float
    summary: str
    speakers: tuple[str, ...]
    outlets: tuple[str, ...]
    dispute: Dispute
    created: datetime | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alert:
        return cls(
            alert_id=d["alert_id"],
            dispute_id=d["dispute_id"],
            event_id=d["event_id"],
            change=d["change"],
            kind=d["kind"],
            status=d["status"],
            topic=d["topic"],
            confidence=float(d["confidence"]),
            summary=d["summary"],
            speakers=tuple(d.get("speakers", ())),
            outlets=tuple(d.get("outlets", ())),
            dispute=dispute_from_json(d["dispute"]),
            created=parse_time(d.get("created")),
        )
