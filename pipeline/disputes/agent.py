"""detect_disputes: claims of an event (news.claims.v1, keyed by event_id) -> dispute changes (news.disputes.v1).

A timer asks each event with open disputes to sweep (quiet disputes become stale) by sending a sweep message
through the same topic and key: table writes then happen on the partition that owns the event, as for claims.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline import messages
from pipeline.app import app, claims_topic, disputes_topic, json_table, reject, settings
from pipeline.disputes import DisputeChange, DisputeDetector
from pipeline.disputes.detector import Handover
from pipeline.messages import ClaimMessage, DisputeChangeMessage, HandoverMessage, MoveMessage, SweepTick
from pipeline.model import Claim
from pipeline.streaming import log_event
from pipeline.watch import note_offset

log = logging.getLogger("newsrift.worker")
detector = DisputeDetector(stale_after=timedelta(seconds=settings.dispute_stale_seconds),
                           retention=timedelta(seconds=settings.dispute_retention_seconds))
# One JSON state per event, co-partitioned with news.claims.v1 (both keyed by event_id).
disputes_by_event = json_table("disputes-by-event")
HANDOVER_PIECE = 100


def _encoded(changes: list[DisputeChange]) -> list[tuple[DisputeChange, bytes]]:
    """Every change encoded (and size-checked) before the state is written: a change that cannot be sent must fail
    the message while the state still lacks its claim, so that a replay of the dead letter redoes it."""
    return [(c, messages.encode(DisputeChangeMessage(c), f"dispute {c.dispute.dispute_id}")) for c in changes]


async def _emit(changes: list[tuple[DisputeChange, bytes]], event_id: str) -> None:
    for change, value in changes:
        await disputes_topic.send(key=change.dispute.dispute_id.encode(), value=value)
        log_event(log, "dispute_change", change=change.change, dispute_id=change.dispute.dispute_id,
                  kind=change.dispute.kind, status=change.dispute.status, sides=len(change.dispute.sides),
                  event_id=event_id)


@app.agent(claims_topic)
async def detect_disputes(stream: Any) -> None:
    async for event in stream.events():
        await note_offset("detect_disputes", event)
        try:
            await _handle(event)
        except Exception as e:  # per message: dead-lettered with its reason, the stage goes on
            await reject("detect_disputes", event, e)


async def _handle(event: Any) -> None:
    msg = messages.CLAIMS(event.value)
    if isinstance(msg, MoveMessage):
        await _move(msg, (event.key or b"").decode("utf-8", "replace"))
        return
    if isinstance(msg, HandoverMessage):
        if msg.handover.claims:
            await _take_over(msg.handover, (event.key or b"").decode("utf-8", "replace"))
        return
    if isinstance(msg, SweepTick):
        event_id = (event.key or b"").decode("utf-8", "replace")
        if disputes_by_event.get(event_id) is None:
            return
        state = copy.deepcopy(disputes_by_event[event_id])
        changes = _encoded(detector.sweep(state, msg.at))
        if detector.expired(state, msg.at):
            # Quiet past retention: drop the state here, on the partition that owns the event.
            del disputes_by_event[event_id]
            log_event(log, "event_state_dropped", event_id=event_id)
            await _emit(changes, event_id)
            return
    else:
        event_id = msg.claim.event_id or ""
        # Nested mutation is invisible to the changelog: update a copy, then store it whole.
        state = copy.deepcopy(disputes_by_event.get(event_id) or {})
        onward = detector.forward(state, msg.claim.claim_id)
        if onward is not None:
            # Its article moved on before the claim got here: hand it on, then keep the used-up redirect.
            await _hand_on(msg.claim, onward, msg.carriers.get(msg.claim.article_id, []))
            disputes_by_event[event_id] = state
            return
        # The worker's clock, not the claim's publication time: a dispute's first_seen / last_updated say when
        # newsrift saw it, and "quiet for stale_after" counts from there, so a replay of 2018 news is live news
        # to the people watching it rather than "years quiet" at the first sweep (the claims keep their times).
        now = datetime.now(timezone.utc)
        changes = _encoded(
            detector.update(state, msg.claim, now, carriers=msg.carriers, duplicate_of=msg.duplicate_of))
    disputes_by_event[event_id] = state
    await _emit(changes, event_id)


async def _move(msg: MoveMessage, event_id: str) -> None:
    """A settle moved articles from this event to another: their claims leave this event's state (disputes that
    quoted them are refreshed or withdrawn) and go to the other event's partition."""
    if not msg.claim_ids:  # articles without claims: nothing of theirs is here
        return
    state = copy.deepcopy(disputes_by_event.get(event_id) or {})
    handover, changes = detector.move_out(state, msg.claim_ids, datetime.now(timezone.utc), msg.to_event)
    encoded = _encoded(changes)
    for piece in handover.to(msg.to_event).pieces(HANDOVER_PIECE):
        await claims_topic.send(key=msg.to_event.encode(),
                                value=messages.encode(HandoverMessage(piece), f"the handover to {msg.to_event}"))
    disputes_by_event[event_id] = state
    await _emit(encoded, event_id)
    log_event(log, "claims_moved", event_id=event_id, to_event=msg.to_event, claims=len(handover.claims),
              disputes=len(handover.disputes), named=len(msg.claim_ids), changes=len(changes))


async def _take_over(handover: Handover, event_id: str) -> None:
    state = copy.deepcopy(disputes_by_event.get(event_id) or {})
    stay, onward = detector.redirected(state, handover)
    changes = _encoded(detector.take_over(state, stay, datetime.now(timezone.utc)))
    for to_event, piece in onward.items():  # their articles moved on before this got here
        await claims_topic.send(key=to_event.encode(),
                                value=messages.encode(HandoverMessage(piece), f"the handover to {to_event}"))
    disputes_by_event[event_id] = state
    await _emit(changes, event_id)


async def _hand_on(claim: Claim, to_event: str, outlets: list[str]) -> None:
    env = ClaimMessage(dataclasses.replace(claim, event_id=to_event), None, {claim.article_id: list(outlets)})
    await claims_topic.send(key=to_event.encode(), value=messages.encode(env, f"claim {claim.claim_id}"))


@app.timer(interval=settings.sweep_seconds, on_leader=False)
async def sweep_disputes() -> None:
    """Nudge every local event that still has live disputes, or whose state is past retention; the agent decides
    what went stale and what to drop."""
    now = datetime.now(timezone.utc)
    for event_id, state in list(disputes_by_event.items()):
        if detector.needs_sweep(state, now):
            await claims_topic.send(key=event_id.encode(), value=messages.encode(SweepTick(now)))
