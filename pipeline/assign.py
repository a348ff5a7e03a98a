"""Where an article lands: reprint detection first, then the event. Shared by the worker and ``newsrift analyze``.

A reprint joins the event of the copy it reprints and adds its outlet to that story's carriers; only a new story is
clustered, so wire copies never pull an event towards themselves twice.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.dedupe.core import ReprintIndex
from pipeline.events.core import EventClusterer
from pipeline.model import Article, Event

__all__ = ["Assigner", "Placement"]


@dataclass(frozen=True)
class Placement:
    article_id: str
    event_id: str
    duplicate_of: str | None
    similarity: float | None
    carriers: tuple[str, ...] = ()
    changed_events: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "event_id": self.event_id, "duplicate_of": self.duplicate_of,
                "similarity": self.similarity, "carriers": list(self.carriers)}


class Assigner:
    """Reprint index and event clusterer over two JSON stores (Faust tables in the worker, dicts in batch)."""

    def __init__(self, reprint_store: MutableMapping[str, Any], event_store: MutableMapping[str, Any]) -> None:
        self.reprints = ReprintIndex(reprint_store)
        self.clusterer = EventClusterer(event_store)

    def place(self, article: Article) -> Placement:
        decision = self.reprints.check(article)
        self.reprints.add(article, decision)
        canonical = decision.duplicate_of or article.article_id
        carriers = tuple(self.reprints.carriers(canonical))
        if decision.duplicate_of is not None:
            event_id = self.clusterer.event_of(decision.duplicate_of)
            if event_id is not None:
                self.clusterer.add_article(event_id, article.article_id)
                return Placement(article.article_id, event_id, decision.duplicate_of, decision.similarity, carriers,
                                 (event_id,))
        assignment = self.clusterer.assign(article)
        changed = (assignment.event_id, *assignment.merged)
        return Placement(article.article_id, assignment.event_id, decision.duplicate_of,
                         decision.similarity if decision.duplicate_of else None, carriers, changed)

    def resolve(self, event_id: str) -> str:
        return self.clusterer.resolve(event_id)

    def event(self, event_id: str) -> Event:
        return self.clusterer.event(event_id)

    def events(self) -> list[Event]:
        return list(self.clusterer.events())
