"""Dispute change -> alert: pure and deterministic."""

from __future__ import annotations

from newsrift.model import Dispute, stable_id
from newsrift.records import DisputeChange
from newsrift.stages.alerts.model import Alert

__all__ = ["QUIET_CHANGES", "alert_from_change", "change_label", "summarise"]

QUIET_CHANGES = frozenset({"updated"})
"""Dispute changes that update the indexed dispute but alert nobody: one more outlet carrying a side, or a speaker
repeating themselves, is not news."""

_KIND_WORDS = {
    "numeric": "numbers",
    "polarity": "asserted vs denied",
    "attribution": "who did it",
    "non_confirmation": "asserted vs not confirmed",
    "other": "dates, places or identities",
}
_CHANGE_WORDS = {
    "new": "New dispute",
    "new_side": "New side in dispute",
    "new_kind": "Dispute escalated",
    "position": "Position change in dispute",
    "status": "Dispute status",
}


def change_label(change: DisputeChange) -> str:
    """The change as part of the alert id: a status change to "settled" and a later one to "stale" are two alerts."""
    if change.change == "status":
        return f"status:{change.dispute.status}"
    if change.change == "new_kind":
        return f"new_kind:{change.dispute.kind}"
    return change.change


def _clip(text: str, n: int = 160) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def summarise(dispute: Dispute, change: str) -> str:
    """One readable paragraph: what changed and who says what (quotes clipped, never the article body)."""
    head = f"{_CHANGE_WORDS.get(change, change)} ({_KIND_WORDS.get(dispute.kind, dispute.kind)}): {dispute.topic}"
    if change == "status":
        head += f" is now {dispute.status}"
    sides = "; ".join(
        f"{s.speaker}{'' if s.polarity == 'asserts' else ' (' + s.polarity.replace('_', ' ') + ')'}: "
        f"\u201c{_clip(s.quote)}\u201d [{len(s.outlets)} outlet{'s' if len(s.outlets) != 1 else ''}]"
        for s in dispute.sides
    )
    return f"{head}. {sides}"


def alert_from_change(change: DisputeChange) -> Alert:
    d = change.dispute
    label = change_label(change)
    side_set = ",".join(sorted(s.claim_id for s in d.sides))
    return Alert(
        alert_id=stable_id(d.dispute_id, label, side_set),
        dispute_id=d.dispute_id,
        event_id=d.event_id,
        change=label,
        kind=d.kind,
        status=d.status,
        topic=d.topic,
        confidence=d.confidence,
        summary=summarise(d, change.change),
        speakers=tuple(s.speaker for s in d.sides),
        outlets=tuple(sorted({o for s in d.sides for o in s.outlets})),
        dispute=d,
        created=d.last_updated,
    )
