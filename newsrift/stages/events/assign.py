"""Where an article lands: reprint detection first, then the event. Shared by the worker and ``newsrift analyze``.

A reprint joins the event of the copy it reprints and adds its outlet to that story's carriers; only a new story is
clustered, so wire copies never pull an event towards themselves twice.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from newsrift.messages import PlacementMessage
from newsrift.model import Article, Event
from newsrift.stages.dedupe.core import ReprintIndex
from newsrift.stages.events.core import ClusterConfig, EventClusterer, Move, changed_events

__all__ = ["Assigner", "Move", "Placement", "changed_events"]


@dataclass(frozen=True)
class Placement:
    article_id: str
    event_id: str
    duplicate_of: str | None
    similarity: float | None
    carriers: tuple[str, ...] = ()
    changed_events: tuple[str, ...] = field(default=(), compare=False)
    moves: tuple[Move, ...] = field(default=(), compare=False)
    """Moves to send: earlier articles that a settle (or a merge) took to another event, pending ones included;
    this article's own move is not among them (its claims go straight to ``event_id``)."""

    def to_json(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "event_id": self.event_id, "duplicate_of": self.duplicate_of,
                "similarity": self.similarity, "carriers": list(self.carriers)}

    def message(self) -> PlacementMessage:
        return PlacementMessage(self.article_id, self.event_id, self.duplicate_of, self.similarity, self.carriers)


class Assigner:
    """Reprint index and event clusterer over two JSON stores (Faust tables in the worker, dicts in batch)."""

    def __init__(self, reprint_store: MutableMapping[str, Any], event_store: MutableMapping[str, Any],
                 config: ClusterConfig | None = None) -> None:
        self.reprints = ReprintIndex(reprint_store)
        self.clusterer = EventClusterer(event_store, config)

    def place(self, article: Article, claim_ids: tuple[str, ...] = ()) -> Placement:
        decision = self.reprints.check(article)
        self.reprints.add(article, decision)
        canonical = decision.duplicate_of or article.article_id
        carriers = tuple(self.reprints.carriers(canonical))
        if decision.duplicate_of is not None:
            event_id = self.clusterer.add_copy(decision.duplicate_of, article.article_id, claim_ids)
            if event_id is not None:
                return Placement(article.article_id, event_id, decision.duplicate_of, decision.similarity, carriers,
                                 (event_id,))
        assignment = self.clusterer.assign(article, claim_ids)
        changed = tuple(dict.fromkeys((assignment.event_id, *assignment.merged, *assignment.touched,
                                       *changed_events(assignment.moves))))
        return Placement(article.article_id, assignment.event_id, decision.duplicate_of,
                         decision.similarity if decision.duplicate_of else None, carriers, changed, assignment.moves)

    def settle(self) -> list[Move]:
        """Regroup the recent fragments now (the worker's idle tick, the end of a batch); see ``EventClusterer``."""
        return self.clusterer.settle()

    def pieces(self, move: Move, size: int) -> list[Move]:
        """A move cut into moves of at most ``size`` articles, each with its articles' claims."""
        return self.clusterer.pieces(move, size)

    def moves_sent(self) -> None:
        """The driver sent every move it was given: they need not go again after a redelivery."""
        self.clusterer.moves_sent()

    def placement_of(self, article_id: str) -> Placement | None:
        """An article's placement as it stands now (after moves), or None when it is not placed here."""
        event_id = self.clusterer.event_of(article_id)
        if event_id is None:
            return None
        decision = self.reprints.check_recorded(article_id)
        dup, sim = decision if decision is not None else (None, None)
        return Placement(article_id, event_id, dup, sim, tuple(self.reprints.carriers(article_id)))

    def resolve(self, event_id: str) -> str:
        """The event an event id now stands for (merges and settles followed)."""
        return self.clusterer.current(event_id)

    def event_of(self, article_id: str) -> str | None:
        return self.clusterer.event_of(article_id)

    def event(self, event_id: str) -> Event:
        return self.clusterer.event(event_id)

    def events(self) -> list[Event]:
        return list(self.clusterer.events())
