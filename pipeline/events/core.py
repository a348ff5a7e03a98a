"""Online event clustering: articles arrive in time order; each joins the most similar live event or opens one.

Features: TF-IDF of the title (weighted) and body with document frequencies learnt as articles arrive, plus
entity and number tokens; events are centroids (top terms only) compared by cosine through an inverted index.
An event quiet for ``max_gap`` stops taking articles (a story can run for days, not for months). When one article
is close to two live events they merge; the absorbed event records ``merged_into``. All state lives in ``store``
(JSON values, top-level sets only) so a Faust table or a dict gives the same answers; the inverted index is a cache.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.model import Article, Event, format_time, parse_time, stable_id

__all__ = ["Assignment", "ClusterConfig", "EventClusterer"]

_WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")
_STOP = frozenset(
    "the and for that with from this have has had was were are been will would said says say about after before "
    "their they them there than then into over also more most some such only other which while where when what who "
    "whom its it's his her hers him she he our ours you your not but can could should may might must one two three "
    "new told reported according being because did does doing just very like still even much many any each per "
    "last first next year years week day days today yesterday monday tuesday wednesday thursday friday saturday "
    "sunday january february march april june july august september october november december people time".split()
)


@dataclass(frozen=True)
class ClusterConfig:
    threshold: float = 0.22
    merge_threshold: float = 0.45
    max_gap: timedelta = timedelta(days=4)
    title_weight: float = 2.0
    centroid_terms: int = 200
    entity_weight: float = 1.5
    prior_docs: int = 50
    """Pseudo-documents in which no term occurs: early on, with few articles seen, IDF stays near uniform
    instead of calling every shared word rare."""


@dataclass(frozen=True)
class Assignment:
    event_id: str
    is_new: bool
    similarity: float
    merged: tuple[str, ...] = ()


def _tokens(article: Article, cfg: ClusterConfig) -> Counter[str]:
    tf: Counter[str] = Counter()
    for w in _WORD.findall(article.text.lower()):
        if w not in _STOP:
            tf[w] += 1.0
    for w in _WORD.findall(article.title.lower()):
        if w not in _STOP:
            tf[w] += cfg.title_weight
    for e in article.entities:
        if e.label in ("PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC"):
            tf["e:" + e.text.lower()] += cfg.entity_weight
    return tf


def _cos(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def _normalise(v: dict[str, float], keep: int) -> dict[str, float]:
    top = sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return {t: round(w / norm, 6) for t, w in top}


class EventClusterer:
    def __init__(self, store: MutableMapping[str, Any], config: ClusterConfig | None = None) -> None:
        self.store = store
        self.cfg = config or ClusterConfig()
        self._postings: dict[str, set[str]] = {}
        for key, ev in list(store.items()):
            if key.startswith("e:") and not ev.get("merged_into"):
                self._post(key[2:], ev["c"])

    def _post(self, event_id: str, centroid: dict[str, float]) -> None:
        for t in centroid:
            self._postings.setdefault(t, set()).add(event_id)

    def _unpost(self, event_id: str, centroid: dict[str, float]) -> None:
        for t in centroid:
            s = self._postings.get(t)
            if s is not None:
                s.discard(event_id)

    def _vector(self, article: Article) -> dict[str, float]:
        tf = _tokens(article, self.cfg)
        n = int(self.store.get("n", 0))
        vec: dict[str, float] = {}
        for t, f in tf.items():
            df = int(self.store.get(f"d:{t}", 0))
            vec[t] = (1.0 + math.log(f)) * math.log((n + self.cfg.prior_docs + 1) / (df + 1))
        return _normalise(vec, self.cfg.centroid_terms * 2)

    def _learn(self, article: Article) -> None:
        """Document frequencies grow with every distinct article (one top-level key per term)."""
        for t in _tokens(article, self.cfg):
            self.store[f"d:{t}"] = int(self.store.get(f"d:{t}", 0)) + 1
        self.store["n"] = int(self.store.get("n", 0)) + 1

    def assign(self, article: Article) -> Assignment:
        seen = self.store.get(f"a:{article.article_id}")
        if seen is not None:  # redelivery: same answer, no state change
            return Assignment(self.resolve(seen["e"]), False, float(seen["s"]))
        when = article.published or datetime.now(timezone.utc)
        vec = self._vector(article)
        self._learn(article)
        scores: dict[str, float] = {}
        for t, w in vec.items():
            for eid in self._postings.get(t, ()):
                scores[eid] = scores.get(eid, 0.0) + w * self.store[f"e:{eid}"]["c"].get(t, 0.0)
        live = []
        for eid, s in scores.items():
            ev = self.store[f"e:{eid}"]
            last = parse_time(ev["l"]) or when
            if abs(when - last) <= self.cfg.max_gap:
                live.append((s, eid))
        live.sort(key=lambda x: (-x[0], x[1]))
        if not live or live[0][0] < self.cfg.threshold:
            eid = stable_id("event", article.article_id)
            self.store[f"e:{eid}"] = {"t": article.title, "a": [article.article_id], "c": vec,
                                      "f": format_time(when), "l": format_time(when), "k": 1, "merged_into": None}
            self._post(eid, vec)
            self.store[f"a:{article.article_id}"] = {"e": eid, "s": 0.0}
            return Assignment(eid, True, 0.0)
        best_score, best = live[0]
        merged = tuple(eid for s, eid in live[1:] if s >= self.cfg.merge_threshold)
        ev = dict(self.store[f"e:{best}"])
        for other in merged:
            self._merge(best, other, ev)
        k = int(ev["k"])
        combined: dict[str, float] = {t: w * k for t, w in ev["c"].items()}
        for t, w in vec.items():
            combined[t] = combined.get(t, 0.0) + w
        self._unpost(best, ev["c"])
        ev["c"] = _normalise(combined, self.cfg.centroid_terms)
        ev["a"] = [*ev["a"], article.article_id]
        ev["k"] = k + 1
        ev["l"] = format_time(max(when, parse_time(ev["l"]) or when))
        self.store[f"e:{best}"] = ev
        self._post(best, ev["c"])
        self.store[f"a:{article.article_id}"] = {"e": best, "s": round(best_score, 4)}
        return Assignment(best, False, round(best_score, 4), merged)

    def _merge(self, into: str, other: str, ev: dict[str, Any]) -> None:
        absorbed = dict(self.store[f"e:{other}"])
        self._unpost(other, absorbed["c"])
        ev["a"] = [*ev["a"], *absorbed["a"]]
        total = int(ev["k"]) + int(absorbed["k"])
        combined = {t: w * int(ev["k"]) for t, w in ev["c"].items()}
        for t, w in absorbed["c"].items():
            combined[t] = combined.get(t, 0.0) + w * int(absorbed["k"])
        ev["c"] = _normalise(combined, self.cfg.centroid_terms)
        ev["k"] = total
        ev["f"] = min(ev["f"], absorbed["f"])
        absorbed["merged_into"] = into
        self.store[f"e:{other}"] = absorbed

    def add_article(self, event_id: str, article_id: str) -> None:
        """Record an article (a reprint) as part of an event without moving the event's centroid."""
        eid = self.resolve(event_id)
        ev = dict(self.store[f"e:{eid}"])
        if article_id not in ev["a"]:
            ev["a"] = [*ev["a"], article_id]
            self.store[f"e:{eid}"] = ev
        self.store[f"a:{article_id}"] = {"e": eid, "s": 1.0}

    def event_of(self, article_id: str) -> str | None:
        seen = self.store.get(f"a:{article_id}")
        return self.resolve(seen["e"]) if seen else None

    def resolve(self, event_id: str) -> str:
        seen: set[str] = set()
        while True:
            ev = self.store.get(f"e:{event_id}")
            if not ev or not ev.get("merged_into") or event_id in seen:
                return event_id
            seen.add(event_id)
            event_id = ev["merged_into"]

    def event(self, event_id: str) -> Event:
        ev = self.store[f"e:{event_id}"]
        return Event(event_id=event_id, title=ev["t"], article_ids=tuple(ev["a"]), first_seen=parse_time(ev["f"]),
                     last_seen=parse_time(ev["l"]), merged_into=ev.get("merged_into"))

    def events(self) -> list[Event]:
        return [self.event(k[2:]) for k in sorted(self.store.keys()) if k.startswith("e:")]
