"""Online event clustering: each article joins the most similar recent fragment or opens one; settles regroup
fragments into events with hindsight.

``EventClusterer`` is the one entry point (``newsrift/stages/events/assign.py`` drives it, in the worker and in
``newsrift analyze``). It composes three parts over one typed state (``state.py``):

- ``Vectoriser`` (``vectoriser.py``): an article as five TF-IDF channels, document frequencies learnt as it goes;
- ``EventIndex`` (``index.py``): the live fragments, their inverted indexes, candidates, scores and joins;
- ``Settler`` (``settle.py``): regrouping the fragments around what changed, and the moves that makes.

Every decision depends only on the store and the order of the articles, so a dict (``newsrift analyze``) and a Faust
table (the worker) give the same answers, and a worker restarted from its table answers as if it never stopped.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from newsrift.model import Article, Event, stable_id
from newsrift.stages.events.config import ClusterConfig
from newsrift.stages.events.dates import article_time
from newsrift.stages.events.index import EventIndex
from newsrift.stages.events.settle import Settler
from newsrift.stages.events.state import EventState, Move, Placed
from newsrift.stages.events.vectoriser import Vectoriser, features

__all__ = ["Assignment", "ClusterConfig", "EventClusterer", "Move", "changed_events", "features"]

_UNKNOWN = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Assignment:
    event_id: str
    is_new: bool
    similarity: float
    merged: tuple[str, ...] = ()
    moves: tuple[Move, ...] = ()
    """Moves to send: earlier articles' (this one's own goes straight where it landed), pending ones first."""
    touched: tuple[str, ...] = ()
    """Events whose records a move changed, this article's own move included."""


def changed_events(moves: tuple[Move, ...] | list[Move]) -> tuple[str, ...]:
    """Every event a list of moves took articles from or to, in first-mention order."""
    return tuple(dict.fromkeys(e for m in moves for e in (m.from_event, m.to_event)))


class EventClusterer:
    """``assign`` each article once, in time order; redelivery of an article returns its current answer."""

    def __init__(self, store: MutableMapping[str, Any], config: ClusterConfig | None = None) -> None:
        self.store = store
        self.cfg = config or ClusterConfig()
        self.state = EventState(store)
        self.clock = self.state.clock()
        self.vectoriser = Vectoriser(self.state, self.cfg)
        self.index = EventIndex(self.state, self.cfg)
        self.settler = Settler(self.state, self.index, self.vectoriser, self.cfg)

    # -- placing -----------------------------------------------------------------------------------------------

    def assign(self, article: Article, claim_ids: tuple[str, ...] = ()) -> Assignment:
        """Place an article (``claim_ids``: its claims, so that a later move can name them). Every
        ``settle_every`` articles the recent fragments are regrouped (``settle``); the moves that causes come with
        the answer."""
        seen = self.state.placed(article.article_id)
        if seen is not None:  # redelivery: same answer, no state change; moves not yet marked sent go again
            return Assignment(self.event_of(article.article_id) or seen.fragment, False, seen.score,
                              moves=tuple(self.pending_moves()))
        # Its publication time, else the date its URL or dateline states, else its fetch time (the worker always
        # has one); in a batch without any of them the time is unknown (None) and says nothing for or against an
        # event: it neither ages the event it joins nor counts as "now".
        when = article_time(article) or article.ingested_at
        if when is not None and article.ingested_at is not None:
            # An article cannot be published after it was ingested: a wrong future date must not make its event
            # look active for years (settles take their window from the latest activity).
            when = min(when, article.ingested_at)
        early: list[Move] = []
        if when is not None:
            latest = self.index.latest
            if self.cfg.settle_every and latest is not None and when - latest > self.cfg.max_gap:
                # Stream time jumps (a batch crossing weeks, a feed back after a pause): the recent fragments are
                # about to leave the settle window, so they are settled first, as the worker's idle tick would.
                early = self._settle()
            self.index.latest = max(when, latest or when)
        result = self._place(article, when, tuple(claim_ids))
        n = self.clock.articles
        if self.vectoriser.fold_due():
            # After the article is recorded: a crash in the fold redelivers an article that is already placed.
            self.vectoriser.fold(n)
        if n % self.cfg.forget_every == 0 and when is not None:
            self.forget(when)
        moves = (*early, *result.moves)
        if self.cfg.settle_every and n % self.cfg.settle_every == 0:
            moves += tuple(self._settle())
        touched = changed_events(moves)
        # This article's claims go straight to where it ended up: its own move is no news to anyone.
        mine = set(claim_ids)
        moves = tuple(m for m in (Move(m.from_event, m.to_event,
                                       tuple(a for a in m.article_ids if a != article.article_id),
                                       tuple(c for c in m.claim_ids if c not in mine)) for m in moves)
                      if m.article_ids)
        return Assignment(self.event_of(article.article_id) or result.event_id, result.is_new, result.similarity,
                          result.merged, tuple(self._keep_pending(list(moves))), touched)

    def _place(self, article: Article, when: datetime | None, claim_ids: tuple[str, ...]) -> Assignment:
        n = self.clock.articles = self.clock.articles + 1
        self.state.put_clock(self.clock)
        v = self.vectoriser.vectorise(article, n)
        self.settler.placed(article.article_id, v.rare)
        best = self.index.best(v.vector, when)
        if best is None or best[0] < self.cfg.threshold:
            fid = stable_id("event", article.article_id)
            # Close, but not close enough to join for good: a fragment of its own, in the nearest event's group
            # until the next settle decides.
            near = best[1] if self.cfg.settle_every and best is not None and best[0] >= self.cfg.provisional else None
            label = self.index.open(fid, article.title, article.article_id, v.vector, when, n, near)
            self.state.put_placed(article.article_id,
                                  Placed(fid, 0.0, n, tuple(v.rare), tuple(v.turned), claim_ids))
            return Assignment(label, label == fid, round(best[0], 4) if label != fid and best else 0.0)
        score, fid = best
        merged, raw = self.index.join(fid, article.article_id, v.vector, when, n)
        moves = tuple(Move(a, b, tuple(arts), self.state.claims_of(arts)) for a, b, arts in raw)
        self.state.put_placed(article.article_id,
                              Placed(fid, round(score, 4), n, tuple(v.rare), tuple(v.turned), claim_ids))
        return Assignment(self.index.label(fid), False, round(score, 4), merged, moves)

    def add_article(self, event_id: str, article_id: str, claim_ids: tuple[str, ...] = ()) -> None:
        """Record an article (a reprint) as part of an event's fragment without moving its centroid."""
        fid = self.index.resolve(event_id)
        frag = self.index.fragment(fid)
        if frag is None:
            raise KeyError(event_id)
        if self.state.placed(article_id) is not None:  # placed before: a redelivery, already counted
            return
        self.index.listed(frag, [article_id], 1)
        self.index.put(fid, frag)
        self.state.put_placed(article_id, Placed(fid, 1.0, claims=claim_ids))

    def add_copy(self, of_article: str, article_id: str, claim_ids: tuple[str, ...] = ()) -> str | None:
        """Record a reprint in the fragment of the article it copies, so that it moves with it; returns its event
        (None when the original is not placed here)."""
        seen = self.state.placed(of_article)
        if seen is None:
            return None
        self.add_article(seen.fragment, article_id, claim_ids)
        return self.event_of(article_id)

    # -- moves -------------------------------------------------------------------------------------------------

    def _keep_pending(self, moves: list[Move]) -> list[Move]:
        """Record moves, after any not yet marked sent, until the driver says they were sent (``moves_sent``):
        the store is written before the driver sends anything, so a crash in between, or a send that failed,
        would otherwise lose them for good. Returns everything pending."""
        pending = self.pending_moves() + moves
        if moves:
            self.state.put_pending(pending)
        return pending

    def pending_moves(self) -> list[Move]:
        """Moves recorded and not yet marked sent (a redelivered message sends them again)."""
        return self.state.pending()

    def moves_sent(self) -> None:
        self.state.put_pending([])

    def pieces(self, move: Move, size: int) -> list[Move]:
        """A move cut into moves of at most ``size`` articles, each with its articles' claims (so that a message
        per piece stays far below the broker's size limit)."""
        out = []
        for i in range(0, len(move.article_ids), size):
            arts = move.article_ids[i: i + size]
            mine = set(self.state.claims_of(arts))
            out.append(Move(move.from_event, move.to_event, arts, tuple(c for c in move.claim_ids if c in mine)))
        return out

    # -- settling and forgetting -------------------------------------------------------------------------------

    def settle(self) -> list[Move]:
        """Regroup the fragments around what changed since the last settle (``Settler``) and return the articles
        that changed event. A settle with no new article since the last one does nothing."""
        return self._keep_pending(self._settle())

    def _settle(self) -> list[Move]:
        n, last = self.clock.articles, self.clock.settled_at
        if not self.cfg.settle_every or last == n:
            return []
        self.clock.settled_at = n
        self.state.put_clock(self.clock)
        return self.settler.settle(n, last)

    def forget(self, now: datetime) -> list[str]:
        """Drop fragments quiet since before ``now - retention`` (and those merged into them) with the placements
        of their articles. Returns the forgotten ids; live events are untouched."""
        index = self.index
        # Fragments quiet for max_gap (incident_gap for a follow-up) before the latest cut take no more articles:
        # out of the index, which stays small. The cut is kept, and only grows, so that a restart leaves out the
        # same fragments and a late article finds the same candidates either way.
        quiet = now - max(self.cfg.max_gap, self.cfg.incident_gap)
        if self.clock.quiet_before is not None:
            quiet = max(quiet, self.clock.quiet_before)
        if quiet != self.clock.quiet_before:
            self.clock.quiet_before = quiet
            self.state.put_clock(self.clock)
        for fid in [f for f, frag in index.live.items() if frag.last is not None and frag.last < quiet]:
            index.unpost(fid)
        cutoff = now - self.cfg.retention
        gone = {fid for fid, last in index.last.items() if (last or now) < cutoff}
        # A group's label stays while any of its fragments does: the others' event id is the label's.
        for label in sorted(index.groups):
            if label in gone and any(m not in gone and (m in index.last or m in index.merged)
                                     for m in index.groups[label]):
                gone.discard(label)
        if not gone:
            return []
        # A merged fragment goes with the survivor it resolves to: its articles' placements point at it.
        gone |= {fid for fid in index.merged if index.resolve(fid) in gone}
        records = {fid: index.fragment(fid) for fid in gone}
        if any(rec is not None and rec.count > len(rec.articles) for rec in records.values()):
            # Some ids fell off a long fragment's list: find their placements by the fragment they point at.
            for aid in self.state.placed_ids():
                placed = self.state.placed(aid)
                if placed is not None and index.resolve(placed.fragment) in gone:
                    self._drop_placement(aid)
        for fid in sorted(gone):
            rec = records[fid]
            for aid in rec.articles if rec is not None else ():
                self._drop_placement(aid)
            index.forget(fid)
        return sorted(gone)

    def _drop_placement(self, article_id: str) -> None:
        rec = self.state.placed(article_id)
        if rec is None:
            return
        self.settler.dropped(article_id, rec.rare)
        self.state.drop_placed(article_id)

    # -- reading -----------------------------------------------------------------------------------------------

    def event_of(self, article_id: str) -> str | None:
        seen = self.state.placed(article_id)
        return self.index.label(seen.fragment) if seen else None

    def current(self, event_id: str) -> str:
        """The event an id now stands for: merges and settled groups followed."""
        return self.index.label(event_id)

    def resolve(self, event_id: str) -> str:
        """Follow online merges (``merged_into``) to the surviving fragment."""
        return self.index.resolve(event_id)

    def event(self, event_id: str) -> Event:
        """An event as people see it: a group lists the articles of all its fragments; a fragment in another
        event's group (or merged into another fragment) says where it went in ``merged_into``."""
        frag = self.index.fragment(event_id)
        if frag is None:
            raise KeyError(event_id)
        where = frag.merged_into
        if where is None and self.index.label(event_id) != event_id:
            where = self.index.label(event_id)
        parts = [frag]
        if where is None:
            for member in self.index.groups.get(event_id, ()):
                rec = self.index.fragment(member)
                if member != event_id and rec is not None and not rec.merged_into:
                    parts.append(rec)
        articles = [a for p in sorted(parts, key=lambda p: p.last or _UNKNOWN) for a in p.articles]
        firsts = [p.first for p in parts if p.first]
        lasts = [p.last for p in parts if p.last]
        return Event(event_id=event_id, title=frag.title, article_ids=tuple(articles[-self.cfg.listed_articles:]),
                     article_count=sum(p.count for p in parts), first_seen=min(firsts) if firsts else None,
                     last_seen=max(lasts) if lasts else None, merged_into=where)

    def events(self) -> list[Event]:
        """Every event in the store, merged ones included (their ``merged_into`` says where they went)."""
        return [self.event(fid) for fid in self.state.fragment_ids()]

    def live_events(self) -> int:
        return len(self.index.live)
