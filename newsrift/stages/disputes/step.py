"""The dispute step: claims of an event (news.claims.v1, keyed by event_id) -> dispute changes (news.disputes.v1).

The state of each event is one JSON value in the ``disputes`` table (``EventDisputes.to_json``), co-partitioned
with news.claims.v1; each message reads it, works on the typed state and writes it back whole. A timer
asks each event with open disputes to sweep (quiet disputes become stale) by sending a sweep tick through the
same topic and key: table writes then happen on the partition that owns the event, as for claims.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import MutableMapping
from datetime import datetime, timezone
from typing import Any

from newsrift import messages, topics
from newsrift.messages import ClaimMessage, DisputeChangeMessage, HandoverMessage, MoveMessage, SweepTick
from newsrift.model import Claim
from newsrift.records import DisputeChange, Handover
from newsrift.stages.context import Context, Send
from newsrift.stages.disputes import DisputeDetector, moves
from newsrift.stages.disputes.state import EventDisputes
from newsrift.streaming import log_event

log = logging.getLogger("newsrift.worker")
HANDOVER_PIECE = 100
ClaimsTopicMessage = ClaimMessage | MoveMessage | HandoverMessage | SweepTick


def _read(states: MutableMapping[str, Any], event_id: str) -> EventDisputes:
    """The event's state, a fresh one when the table has none. Decoded into new objects: changing them leaves the
    table as it is until the step writes the state back (a change that fails to encode leaves no trace)."""
    value = states.get(event_id)
    return EventDisputes() if value is None else EventDisputes.from_json(value)


def _encoded(changes: list[DisputeChange]) -> list[tuple[DisputeChange, bytes]]:
    """Every change encoded (and size-checked) before the state is written: a change that cannot be sent must fail
    the message while the state still lacks its claim, so that a replay of the dead letter redoes it."""
    return [(c, messages.encode(DisputeChangeMessage(c), f"dispute {c.dispute.dispute_id}")) for c in changes]


async def _emit(ctx: Context, changes: list[tuple[DisputeChange, bytes]], event_id: str) -> None:
    for change, value in changes:
        await ctx.send(topics.DISPUTES, change.dispute.dispute_id.encode(), value)
        log_event(log, "dispute_change", change=change.change, dispute_id=change.dispute.dispute_id,
                  kind=change.dispute.kind, status=change.dispute.status, sides=len(change.dispute.sides),
                  event_id=event_id)


async def detect(detector: DisputeDetector, ctx: Context, message: ClaimsTopicMessage) -> None:
    """One message of news.claims.v1 for the event its key names. Table: ``disputes``."""
    states: MutableMapping[str, Any] = ctx.tables["disputes"]
    event_id = ctx.key_text
    if isinstance(message, MoveMessage):
        await _move(detector, ctx, states, message, event_id)
        return
    if isinstance(message, HandoverMessage):
        if message.handover.claims:
            await _take_over(detector, ctx, states, message.handover, event_id)
        return
    if isinstance(message, SweepTick):
        if states.get(event_id) is None:
            return
        state = _read(states, event_id)
        changes = _encoded(detector.sweep(state, message.at))
        if detector.expired(state, message.at):
            # Quiet past retention: drop the state here, on the partition that owns the event.
            del states[event_id]
            log_event(log, "event_state_dropped", event_id=event_id)
            await _emit(ctx, changes, event_id)
            return
    else:
        event_id = message.claim.event_id or ""
        state = _read(states, event_id)
        onward = moves.forward(state, message.claim.claim_id)
        if onward is not None:
            # Its article moved on before the claim got here: hand it on, then keep the used-up redirect.
            await _hand_on(ctx, message.claim, onward, message.carriers.get(message.claim.article_id, []))
            states[event_id] = state.to_json()
            return
        # The worker's clock, not the claim's publication time: a dispute's first_seen / last_updated say when
        # newsrift saw it, and "quiet for stale_after" counts from there, so a replay of 2018 news is live news
        # to the people watching it rather than "years quiet" at the first sweep (the claims keep their times).
        now = datetime.now(timezone.utc)
        changes = _encoded(detector.update(state, message.claim, now, carriers=message.carriers,
                                           duplicate_of=message.duplicate_of))
    states[event_id] = state.to_json()
    await _emit(ctx, changes, event_id)


async def _move(detector: DisputeDetector, ctx: Context, states: MutableMapping[str, Any], msg: MoveMessage,
                event_id: str) -> None:
    """A settle moved articles from this event to another: their claims leave this event's state (disputes that
    quoted them are refreshed or withdrawn) and go to the other event's partition."""
    if not msg.claim_ids:  # articles without claims: nothing of theirs is here
        return
    state = _read(states, event_id)
    handover, changes = moves.move_out(detector, state, msg.claim_ids, datetime.now(timezone.utc), msg.to_event)
    encoded = _encoded(changes)
    for piece in handover.to(msg.to_event).pieces(HANDOVER_PIECE):
        await ctx.send(topics.CLAIMS, msg.to_event.encode(),
                       messages.encode(HandoverMessage(piece), f"the handover to {msg.to_event}"))
    states[event_id] = state.to_json()
    await _emit(ctx, encoded, event_id)
    log_event(log, "claims_moved", event_id=event_id, to_event=msg.to_event, claims=len(handover.claims),
              disputes=len(handover.disputes), named=len(msg.claim_ids), changes=len(changes))


async def _take_over(detector: DisputeDetector, ctx: Context, states: MutableMapping[str, Any], handover: Handover,
                     event_id: str) -> None:
    state = _read(states, event_id)
    stay, onward = moves.redirected(state, handover)
    changes = _encoded(moves.take_over(detector, state, stay, datetime.now(timezone.utc)))
    for to_event, piece in onward.items():  # their articles moved on before this got here
        await ctx.send(topics.CLAIMS, to_event.encode(),
                       messages.encode(HandoverMessage(piece), f"the handover to {to_event}"))
    states[event_id] = state.to_json()
    await _emit(ctx, changes, event_id)


async def _hand_on(ctx: Context, claim: Claim, to_event: str, outlets: list[str]) -> None:
    out = ClaimMessage(dataclasses.replace(claim, event_id=to_event), None, {claim.article_id: list(outlets)})
    await ctx.send(topics.CLAIMS, to_event.encode(), messages.encode(out, f"claim {claim.claim_id}"))


async def sweep_tick(detector: DisputeDetector, states: MutableMapping[str, Any], send: Send) -> None:
    """Nudge every local event that still has live disputes, or whose state is past retention; the step decides
    what went stale and what to drop."""
    now = datetime.now(timezone.utc)
    for event_id, value in list(states.items()):
        if value is not None and detector.needs_sweep(EventDisputes.from_json(value), now):
            await send(topics.CLAIMS, event_id.encode(), messages.encode(SweepTick(now)))
