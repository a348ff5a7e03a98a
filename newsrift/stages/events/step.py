"""The route and assign steps: every analysed article through one ordered partition, where reprints are folded and
events assigned; they send placements, event upserts and the claims keyed by event (news.claims.v1)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timezone

from newsrift import messages, topics
from newsrift.errors import NewsriftError
from newsrift.messages import AnalysedArticle, ClaimMessage, EventMessage, MoveMessage, SettleTick
from newsrift.stages.context import Context, Send
from newsrift.stages.events.assign import Assigner, Move, changed_events
from newsrift.streaming import log_event

log = logging.getLogger("newsrift.worker")
GLOBAL_KEY = b"global"
MOVE_PIECE = 200
"""Articles per move message (their claim ids go with them)."""


async def route(ctx: Context, message: AnalysedArticle) -> None:
    """Re-key to one partition, so the assign stage sees every article in one global order."""
    await ctx.send(topics.ASSIGN, GLOBAL_KEY, ctx.value)


async def settle_tick(send: Send) -> None:
    """Ask the assign stage to settle what came since its last settle: a tick through its own ordered topic, so
    the regrouping happens at one place in the log (replays settle at the same point). A tick with nothing new
    to settle does nothing."""
    await send(topics.ASSIGN, GLOBAL_KEY, messages.encode(SettleTick(datetime.now(timezone.utc))))


class AssignStep:
    """Places each article (``Assigner``) and settles on a tick. The Assigner's caches (inverted index, document
    frequencies) are built from the tables; after a rebalance the partition may have been away and its tables
    changed under another worker, so a fresh Assigner is built from the recovered tables on the first message
    after it (``rebalanced``), and after a failure that may have come halfway through a placement. Tables:
    ``reprints`` and ``events``."""

    def __init__(self) -> None:
        self.assigner: Assigner | None = None
        self.rebalances = 0
        self.built_at = -1

    def rebalanced(self) -> None:
        self.rebalances += 1

    async def __call__(self, ctx: Context, message: AnalysedArticle | SettleTick) -> None:
        try:
            if self.assigner is None or self.built_at != self.rebalances:
                self.built_at = self.rebalances
                self.assigner = Assigner(ctx.tables["reprints"], ctx.tables["events"])
                log_event(log, "assigner_built", rebalances=self.built_at)
            if isinstance(message, SettleTick):
                await send_moves(ctx, self.assigner, self.assigner.settle(), ())
            else:
                await place(ctx, self.assigner, message)
        except Exception as e:
            if not isinstance(e, NewsriftError):
                self.assigner = None
            raise


async def place(ctx: Context, assigner: Assigner, message: AnalysedArticle) -> None:
    article, claims = message.article, message.claims
    placement = assigner.place(article, tuple(c.claim_id for c in claims))
    await ctx.send(topics.PLACEMENTS, article.article_id.encode(),
                   messages.encode(placement.message(), "the placement"))
    # Moves first: the claims of the articles a settle moved leave their old events before this article's
    # claims reach the new ones (both go through news.claims.v1 in this order).
    await send_moves(ctx, assigner, placement.moves, placement.changed_events)
    carriers = {article.article_id: list(placement.carriers)}
    if placement.duplicate_of:
        carriers[placement.duplicate_of] = list(placement.carriers)
    for claim in claims:
        out = ClaimMessage(dataclasses.replace(claim, event_id=placement.event_id), placement.duplicate_of, carriers)
        await ctx.send(topics.CLAIMS, placement.event_id.encode(), messages.encode(out, f"claim {claim.claim_id}"))
    log_event(log, "article_placed", article_id=article.article_id, event_id=placement.event_id,
              duplicate_of=placement.duplicate_of or "-", claims=len(claims))


async def send_moves(ctx: Context, assigner: Assigner, moves: tuple[Move, ...] | list[Move],
                     changed: tuple[str, ...]) -> None:
    """Each moved article's new placement, a move message to the event its claims leave, and the records of every
    event that changed."""
    for move in moves:
        for article_id in move.article_ids:
            p = assigner.placement_of(article_id)
            if p is not None:
                await ctx.send(topics.PLACEMENTS, article_id.encode(), messages.encode(p.message(), "a placement"))
        for piece in assigner.pieces(move, MOVE_PIECE):
            msg = MoveMessage(piece.to_event, piece.article_ids, piece.claim_ids)
            await ctx.send(topics.CLAIMS, move.from_event.encode(),
                           messages.encode(msg, f"the move from {move.from_event}"))
    for event_id in dict.fromkeys((*changed, *changed_events(moves))):
        ev = assigner.event(event_id)
        await ctx.send(topics.EVENTS, ev.event_id.encode(), messages.encode(EventMessage(ev), f"event {ev.event_id}"))
    if moves:
        assigner.moves_sent()
        log_event(log, "events_settled", moves=len(moves), articles=sum(len(m.article_ids) for m in moves))
