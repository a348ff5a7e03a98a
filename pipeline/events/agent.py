"""route_articles and assign_events: every analysed article through one ordered partition, where reprints are
folded and events assigned; emits placements, event upserts and the claims keyed by event (news.claims.v1)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone
from typing import Any

from pipeline import messages
from pipeline.app import (
    app,
    articles_topic,
    assign_topic,
    claims_topic,
    events_topic,
    json_table,
    placements_topic,
    reject,
    settings,
)
from pipeline.assign import Assigner, Move, changed_events
from pipeline.errors import NewsriftError
from pipeline.messages import ClaimMessage, EventMessage, MoveMessage, SettleTick
from pipeline.model import Article, Claim
from pipeline.streaming import log_event
from pipeline.watch import note_offset

log = logging.getLogger("newsrift.worker")
# One partition, like news.assign.v1: the whole recent history in one place (docs/architecture.md).
reprint_store = json_table("reprints-store", partitions=1)
event_store = json_table("events-store", partitions=1)
GLOBAL_KEY = b"global"
MOVE_PIECE = 200
"""Articles per move message (their claim ids go with them)."""
# Rebalances seen so far. The Assigner's caches (inverted index, document frequencies) are built from the tables;
# after a rebalance the partition may have been away and its tables changed under another worker, so the agent
# builds a fresh Assigner from the recovered tables.
_rebalances = [0]


@app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's handler type rejects any def here
def _caches_may_go_stale(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
    _rebalances[0] += 1


@app.agent(articles_topic)
async def route_articles(stream: Any) -> None:
    """Re-key to one partition, so the assign stage sees every article in one global order."""
    async for event in stream.events():
        await note_offset("route_articles", event)
        try:
            messages.ARTICLES(event.value)
            await assign_topic.send(key=GLOBAL_KEY, value=event.value)
        except Exception as e:  # per message: dead-lettered with its reason, the stage goes on
            await reject("route_articles", event, e)


@app.agent(assign_topic)
async def assign_events(stream: Any) -> None:
    assigner: Assigner | None = None
    built_at = -1
    async for event in stream.events():
        await note_offset("assign_events", event)
        try:
            msg = messages.ASSIGN(event.value)
            if assigner is None or built_at != _rebalances[0]:
                # Built on the first message after start or a rebalance, once Faust has recovered the tables: its
                # caches come from their contents.
                built_at = _rebalances[0]
                assigner = Assigner(reprint_store, event_store)
                log_event(log, "assigner_built", rebalances=built_at)
            if isinstance(msg, SettleTick):
                await _send_moves(assigner, assigner.settle(), ())
            else:
                await _assign(assigner, msg.article, list(msg.claims))
        except Exception as e:
            if not isinstance(e, NewsriftError):
                # The failure may have come halfway through a placement: rebuild the caches from the tables.
                assigner = None
            await reject("assign_events", event, e)


async def _assign(assigner: Assigner, article: Article, claims: list[Claim]) -> None:
    placement = assigner.place(article, tuple(c.claim_id for c in claims))
    await placements_topic.send(key=article.article_id.encode(),
                                value=messages.encode(placement.message(), "the placement"))
    # Moves first: the claims of the articles a settle moved leave their old events before this article's
    # claims reach the new ones (both go through news.claims.v1 in this order).
    await _send_moves(assigner, placement.moves, placement.changed_events)
    carriers = {article.article_id: list(placement.carriers)}
    if placement.duplicate_of:
        carriers[placement.duplicate_of] = list(placement.carriers)
    for claim in claims:
        env = ClaimMessage(dataclasses.replace(claim, event_id=placement.event_id), placement.duplicate_of,
                           carriers)
        value = messages.encode(env, f"claim {claim.claim_id}")
        await claims_topic.send(key=placement.event_id.encode(), value=value)
    log_event(log, "article_placed", article_id=article.article_id, event_id=placement.event_id,
              duplicate_of=placement.duplicate_of or "-", claims=len(claims))


async def _send_moves(assigner: Assigner, moves: tuple[Move, ...] | list[Move], changed: tuple[str, ...]) -> None:
    """Each moved article's new placement, a move message to the event its claims leave, and the records of every
    event that changed."""
    for move in moves:
        for article_id in move.article_ids:
            p = assigner.placement_of(article_id)
            if p is not None:
                await placements_topic.send(key=article_id.encode(), value=messages.encode(p.message(), "a placement"))
        for piece in assigner.pieces(move, MOVE_PIECE):
            msg = MoveMessage(piece.to_event, piece.article_ids, piece.claim_ids)
            await claims_topic.send(key=move.from_event.encode(),
                                    value=messages.encode(msg, f"the move from {move.from_event}"))
    for event_id in dict.fromkeys((*changed, *changed_events(moves))):
        ev = assigner.event(event_id)
        await events_topic.send(key=ev.event_id.encode(),
                                value=messages.encode(EventMessage(ev), f"event {ev.event_id}"))
    if moves:
        assigner.moves_sent()
        log_event(log, "events_settled", moves=len(moves), articles=sum(len(m.article_ids) for m in moves))


@app.timer(interval=settings.settle_seconds, on_leader=False)
async def settle_events() -> None:
    """Ask the assign stage to settle what came since its last settle: a tick through its own ordered topic, so
    the regrouping happens at one place in the log (replays settle at the same point). A tick with nothing new
    to settle does nothing."""
    await assign_topic.send(key=GLOBAL_KEY, value=messages.encode(SettleTick(datetime.now(timezone.utc))))
