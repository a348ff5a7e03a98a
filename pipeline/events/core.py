"""Online event clustering: articles arrive in time order; each joins the most similar live event or opens one.

An article becomes five L2-normalised TF-IDF vectors ("channels"): stemmed words, word bigrams, names (capitalised
words, plus spaCy entities when the article carries them), years, and calendar dates ("Dec. 14", "2009/04").
Channels are normalised apart so that a short article's few names weigh as much as a long article's many words; the
score against an event is the weighted sum of per-channel cosines with the event's centroid (the sum of its
members' vectors), less a penalty when the article's main year and the event's contradict each other. Document
frequencies are learnt as articles arrive (hashed into a fixed number of buckets so the state stays bounded), with
``prior_docs`` pseudo documents keeping IDF near uniform while little has been seen.

Time: an event quiet for ``max_gap`` takes no more articles, and scores fade with the gap (``half_life``) so a
story can run for days while an old one loses to a fresh one. When an event's centroid comes close to another live
event's, the two merge and the absorbed one records ``merged_into``.

All state lives in ``store`` (JSON values, one top-level key per item) so that a Faust table or a dict gives the
same answers; the inverted index over live events is a cache rebuilt from it.
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.model import Article, Event, format_time, parse_time, stable_id

__all__ = ["Assignment", "ClusterConfig", "EventClusterer", "features"]

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'-]+|\d+")
_SENTENCE_END = re.compile(r"[.!?:\"'\n]\s*$")
_STOP = frozenset(
    "the and for that with from this have has had was were are been will would said says say about after before "
    "their they them there than then into over also more most some such only other which while where when what who "
    "whom its it's his her hers him she he our ours you your not but can could should may might must one two three "
    "new told reported according being because did does doing just very like still even much many any each per "
    "last first next year years week day days today yesterday monday tuesday wednesday thursday friday saturday "
    "sunday january february march april june july august september october november december people time http "
    "www com html htm php org net news article story updated posted published "
    "a an as at be by do if in is it me my no of on or so to up us we i".split()
)
_ENTITY_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "EVENT", "FAC", "PRODUCT", "WORK_OF_ART"})
_CHANNELS = ("w", "b", "p", "y", "d")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_DAY = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?!\s*(?:%|percent))"
)
_YEAR_MONTH = re.compile(r"\b((?:19|20)\d\d)\s*[/-]\s*(\d{1,2})\b")
DF_BUCKETS = 1 << 20
DF_PAGE_BITS = 8
"""Document frequencies are stored in pages of 2^8 buckets (4,096 pages): one store key per page, not per term."""


@dataclass(frozen=True)
class ClusterConfig:
    """Tuned on ECB+ dev topics 1-20 (bench/eval_events.py); see docs/events.md."""

    threshold: float = 0.21
    """Least score for an article to join an event rather than open one."""
    merge_threshold: float = 0.6
    """Least centroid-to-centroid score at which two live events merge."""
    max_gap: timedelta = timedelta(days=4)
    half_life: timedelta = timedelta(days=7)
    retention: timedelta = timedelta(days=30)
    """Events quiet for longer than this are forgotten with their articles' placements, so a worker that runs for
    months keeps a bounded store. Must exceed ``max_gap`` (a forgotten event could no longer take articles anyway)
    and Kafka's redelivery horizon (a redelivered article of a forgotten event would open a new event)."""
    forget_every: int = 200
    """Articles between two sweeps for events past ``retention``."""
    title_weight: float = 2.0
    weights: tuple[tuple[str, float], ...] = (("w", 0.45), ("b", 0.2), ("p", 0.25), ("y", 0.1), ("d", 0.1))
    """Channel weights: words, bigrams, names, years, calendar dates. A channel missing on either side scores
    zero."""
    query_terms: int = 400
    """Terms per channel of an article used to score events (the heaviest ones)."""
    probe_terms: int = 15
    """Heaviest terms per channel used to find candidate events through the inverted index (rare terms have short
    posting lists, which keeps the cost flat as live events grow)."""
    rerank: int = 12
    """Candidates, best first by the probe score, that get the full score."""
    centroid_terms: int = 400
    """Terms per channel an event keeps: bounds state and the inverted index."""
    prior_docs: int = 50
    fold_every: int = 4000
    """Articles whose document-frequency increments wait, one ``dd:<n>`` key per article, before they are folded
    into the ``D:<page>`` pages. A store write per article instead of one per distinct term (about 220): in the
    worker every write is a changelog message. A fold rewrites every page touched since the last one, which is
    most of them, so its size grows with the vocabulary (about 9.4 MB with 600k buckets filled); 4,000 articles
    keep that near 2.3 KiB per article and a restart replays at most 4,000 small keys."""
    listed_articles: int = 1000
    """Article ids an event record lists, the most recent ones; ``na`` counts them all. A story that runs for weeks
    across many feeds gathers tens of thousands of articles, and the record is one table value (Kafka refuses
    values over 1 MB; 20-character ids are 23 bytes each) that is re-sent with every article that joins."""
    conflicts: tuple[tuple[str, float], ...] = (("y", 0.1),)
    """Penalty per channel when the article's heaviest term and the event's are each absent from the other side:
    an article about 2011 and an event about 2008 are evidence of two events of one kind, not a missing match."""


@dataclass(frozen=True)
class Assignment:
    event_id: str
    is_new: bool
    similarity: float
    merged: tuple[str, ...] = ()


def _stem(word: str) -> str:
    # Plural folding only: enough to join "robbers"/"robber" without a stemmer's surprises on names.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def features(article: Article, title_weight: float = 2.0) -> dict[str, dict[str, float]]:
    """Raw term counts per channel (``w`` words, ``b`` bigrams, ``p`` names, ``y`` years, ``d`` calendar dates)."""
    out: dict[str, dict[str, float]] = {ch: {} for ch in _CHANNELS}
    for part, weight in ((article.text, 1.0), (article.title, title_weight)):
        prev: str | None = None
        for m in _TOKEN.finditer(part):
            tok = m.group(0)
            low = tok.lower()
            if tok.isdigit():
                if len(tok) == 4 and 1900 <= int(tok) <= 2100:
                    out["y"][tok] = out["y"].get(tok, 0.0) + weight
                prev = None
                continue
            if low in _STOP or len(low) < 3:
                prev = None
                continue
            stem = _stem(low)
            out["w"][stem] = out["w"].get(stem, 0.0) + weight
            if prev is not None:
                out["b"][prev + " " + stem] = out["b"].get(prev + " " + stem, 0.0) + weight
            prev = stem
            # A capitalised word not opening a sentence is most likely a name; good enough without spaCy.
            if tok[0].isupper() and m.start() > 0 and not _SENTENCE_END.search(part[max(0, m.start() - 3) : m.start()]):
                out["p"][low] = out["p"].get(low, 0.0) + weight
    for part, weight in ((article.text, 1.0), (article.title, title_weight)):
        # Calendar dates the text states: "Dec. 14" and "2009/04" or "2009-04-28" (article URLs often carry them).
        for m in _MONTH_DAY.finditer(part):
            day = int(m.group(2))
            if 1 <= day <= 31:
                key = f"{m.group(1).lower()}-{day}"
                out["d"][key] = out["d"].get(key, 0.0) + weight
        for m in _YEAR_MONTH.finditer(part):
            month = int(m.group(2))
            if 1 <= month <= 12:
                key = f"{m.group(1)}-{_MONTHS[month - 1]}"
                out["d"][key] = out["d"].get(key, 0.0) + weight
    for ent in article.entities:
        if ent.label in _ENTITY_LABELS:
            out["p"]["ent " + ent.text.lower()] = out["p"].get("ent " + ent.text.lower(), 0.0) + 1.0
    return out


def _bucket(channel: str, term: str) -> int:
    return zlib.crc32(f"{channel}:{term}".encode()) % DF_BUCKETS


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b.get(t, 0.0) for t, w in a.items())


def _top(v: dict[str, float], keep: int) -> dict[str, float]:
    if len(v) <= keep:
        return v
    return dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])


def _count(ev: dict[str, Any]) -> int:
    """Articles an event record holds, listed or not (records written before ``na`` list them all)."""
    return int(ev.get("na", len(ev["a"])))


def _norm(v: dict[str, float]) -> float:
    return math.sqrt(sum(w * w for w in v.values()))


class EventClusterer:
    """``assign`` each article once, in time order; redelivery of an article returns its first answer."""

    def __init__(self, store: MutableMapping[str, Any], config: ClusterConfig | None = None) -> None:
        self.store = store
        self.cfg = config or ClusterConfig()
        self._weights = dict(self.cfg.weights)
        # Cache: (channel, term) -> live event ids whose centroid holds the term; rebuilt from ``store``.
        self._postings: dict[tuple[str, str], set[str]] = {}
        self._live: dict[str, dict[str, Any]] = {}
        # Cache: document frequency per bucket, from the pages plus the increments not yet folded into them.
        self._df = array("I", [0]) * DF_BUCKETS
        self._pending: list[int] = []
        self._touched: set[int] = set()
        self._legacy: dict[int, list[int]] = {}  # page -> its buckets still stored as d:<bucket> keys
        keys = sorted(store.keys())
        for key in keys:
            if key.startswith("e:"):
                ev = store[key]
                if not ev.get("merged_into") and ev.get("c"):
                    self._post(key[2:], ev)
        self._load_df(keys)

    # -- cache -------------------------------------------------------------------------------------------------

    def _post(self, event_id: str, ev: dict[str, Any]) -> None:
        self._live[event_id] = ev
        for ch, vec in ev["c"].items():
            for t in vec:
                self._postings.setdefault((ch, t), set()).add(event_id)

    def _unpost(self, event_id: str) -> None:
        ev = self._live.pop(event_id, None)
        if ev is None:
            return
        for ch, vec in ev["c"].items():
            for t in vec:
                s = self._postings.get((ch, t))
                if s is not None:
                    s.discard(event_id)
                    if not s:
                        del self._postings[(ch, t)]

    def _load_df(self, keys: list[str]) -> None:
        """Rebuild the frequencies: every page (``{"n": folded through article n, "c": {bucket: df}}``), then each
        pending ``dd:<m>`` increment on the pages not yet folded through m (a fold cut short by a crash is neither
        lost nor counted twice). ``d:<bucket>`` keys are the older one-key-per-bucket layout, folded away as their
        pages are next written; once a page exists it holds their counts (a fold cut short may leave them behind),
        so they count only where their page does not exist yet."""
        through: dict[int, int] = {}
        for key in keys:
            if key.startswith("D:"):
                page = self.store[key]
                through[int(key[2:])] = int(page["n"])
                for b, c in page["c"].items():
                    self._df[int(b)] += int(c)
        for key in keys:
            if key.startswith("d:"):
                b = int(key[2:])
                if b >> DF_PAGE_BITS not in through:
                    self._df[b] += int(self.store[key])
                self._legacy.setdefault(b >> DF_PAGE_BITS, []).append(b)
        for m in sorted(int(k[3:]) for k in keys if k.startswith("dd:")):
            for b in self.store[f"dd:{m}"]:
                page = b >> DF_PAGE_BITS
                if through.get(page, 0) < m:
                    self._df[b] += 1
                self._touched.add(page)
            self._pending.append(m)

    def _fold(self, n: int) -> None:
        """Write every page touched since the last fold, marked as folded through article ``n``, then drop the
        increments it now holds."""
        size = 1 << DF_PAGE_BITS
        for page in sorted(self._touched):
            lo = page << DF_PAGE_BITS
            self.store[f"D:{page}"] = {"n": n, "c": {str(b): self._df[b] for b in range(lo, lo + size) if self._df[b]}}
            for b in self._legacy.pop(page, []):
                self.store.pop(f"d:{b}", None)
        for m in self._pending:
            self.store.pop(f"dd:{m}", None)
        self._pending.clear()
        self._touched.clear()

    # -- vectors -----------------------------------------------------------------------------------------------

    def _learn_and_vectorise(self, article: Article) -> dict[str, dict[str, float]]:
        """Count the article into document frequencies, then weight its terms (learning first keeps IDF finite)."""
        feats = features(article, self.cfg.title_weight)
        n = int(self.store.get("n", 0)) + 1
        self.store["n"] = n
        out: dict[str, dict[str, float]] = {}
        learned: list[int] = []
        for ch, counts in feats.items():
            if not counts:
                continue
            vec: dict[str, float] = {}
            for t, f in counts.items():
                b = _bucket(ch, t)
                self._df[b] += 1
                learned.append(b)
                self._touched.add(b >> DF_PAGE_BITS)
                vec[t] = (1.0 + math.log(f)) * math.log((n + self.cfg.prior_docs + 1) / self._df[b])
            vec = _top(vec, self.cfg.query_terms)
            norm = _norm(vec) or 1.0
            out[ch] = {t: w / norm for t, w in vec.items()}
        self.store[f"dd:{n}"] = learned
        self._pending.append(n)
        return out

    def _score(self, vec: dict[str, dict[str, float]], ev: dict[str, Any]) -> float:
        score = 0.0
        for ch, weight in self._weights.items():
            a, c = vec.get(ch), ev["c"].get(ch)
            if a and c:
                score += weight * _dot(a, c) / (ev["q"][ch] or 1.0)
        for ch, penalty in self.cfg.conflicts:
            a, c = vec.get(ch), ev["c"].get(ch)
            if a and c:
                ta = max(a, key=lambda t: (a[t], t))
                tc = max(c, key=lambda t: (c[t], t))
                if ta not in c and tc not in a:
                    score -= penalty
        return score

    def _fade(self, when: datetime, ev: dict[str, Any]) -> float:
        """1 for an event seen just now, halving every ``half_life``; 0 once quiet for longer than ``max_gap``."""
        last = parse_time(ev["l"]) or when
        gap = abs(when - last)
        if gap > self.cfg.max_gap:
            return 0.0
        return float(0.5 ** (gap / self.cfg.half_life))

    def _candidates(self, vec: dict[str, dict[str, float]], exclude: str | None = None) -> list[str]:
        """Live events sharing the article's heaviest terms, best ``rerank`` of them by that partial score."""
        partial: dict[str, float] = {}
        for ch, terms in vec.items():
            weight = self._weights.get(ch, 0.0)
            for t, w in _top(terms, self.cfg.probe_terms).items():
                for eid in self._postings.get((ch, t), ()):
                    ev = self._live[eid]
                    partial[eid] = partial.get(eid, 0.0) + weight * w * ev["c"][ch][t] / (ev["q"][ch] or 1.0)
        partial.pop(exclude or "", None)
        best = sorted(partial.items(), key=lambda kv: (-kv[1], kv[0]))[: self.cfg.rerank]
        return sorted(eid for eid, _ in best)

    # -- public ------------------------------------------------------------------------------------------------

    def assign(self, article: Article) -> Assignment:
        seen = self.store.get(f"a:{article.article_id}")
        if seen is not None:  # redelivery: same answer, no state change
            return Assignment(self.resolve(seen["e"]), False, float(seen["s"]))
        when = article.published or article.ingested_at or datetime.now(timezone.utc)
        result = self._assign(article, when)
        if len(self._pending) >= self.cfg.fold_every:
            # After the article is recorded: a crash in the fold redelivers an article that is already placed.
            self._fold(int(self.store["n"]))
        if int(self.store.get("n", 0)) % self.cfg.forget_every == 0:
            # An article cannot be published after it was ingested: a wrong future date must not age everything.
            self.forget(min(when, article.ingested_at) if article.ingested_at else when)
        return result

    def forget(self, now: datetime) -> list[str]:
        """Drop events quiet since before ``now - retention`` (and the events merged into them) with the placements
        of their articles. Returns the forgotten event ids; live events are untouched."""
        cutoff = now - self.cfg.retention
        events = {k[2:]: self.store[k] for k in list(self.store.keys()) if k.startswith("e:")}
        gone = {eid for eid, ev in events.items()
                if not ev.get("merged_into") and (parse_time(ev["l"]) or now) < cutoff}
        if not gone:
            return []
        # A merged event goes with the survivor it resolves to: its articles' placements point at it.
        for eid, ev in events.items():
            if ev.get("merged_into") and self.resolve(eid) in gone:
                gone.add(eid)
        if any(_count(events[eid]) > len(events[eid]["a"]) for eid in gone):
            # Some ids fell off a long event's list: find their placements by the event they point at.
            for key in [k for k in self.store.keys() if k.startswith("a:")]:
                seen = self.store.get(key)
                if seen and self.resolve(seen["e"]) in gone:
                    del self.store[key]
        for eid in sorted(gone):
            for aid in events[eid]["a"]:
                self.store.pop(f"a:{aid}", None)
            del self.store[f"e:{eid}"]
            self._unpost(eid)
        return sorted(gone)

    def _assign(self, article: Article, when: datetime) -> Assignment:
        vec = self._learn_and_vectorise(article)
        best: tuple[float, str] | None = None
        stale: list[str] = []
        for eid in self._candidates(vec):
            ev = self._live[eid]
            fade = self._fade(when, ev)
            if fade == 0.0:
                stale.append(eid)
                continue
            s = self._score(vec, ev) * fade
            if best is None or s > best[0]:
                best = (s, eid)
        for eid in stale:  # quiet for too long: out of the index, still in the store
            self._unpost(eid)
        if best is None or best[0] < self.cfg.threshold:
            eid = stable_id("event", article.article_id)
            ev = {"t": article.title, "a": [article.article_id], "na": 1, "c": vec,
                  "q": {ch: 1.0 for ch in vec}, "f": format_time(when), "l": format_time(when), "k": 1,
                  "merged_into": None}
            self.store[f"e:{eid}"] = ev
            self._post(eid, ev)
            self.store[f"a:{article.article_id}"] = {"e": eid, "s": 0.0}
            return Assignment(eid, True, 0.0)
        score, eid = best
        ev = dict(self._live[eid])
        self._unpost(eid)
        self._absorb(ev, vec, 1)
        self._list(ev, [article.article_id], 1)
        ev["l"] = format_time(max(when, parse_time(ev["l"]) or when))
        merged = self._merge_close(eid, ev, when)
        self.store[f"e:{eid}"] = ev
        self._post(eid, ev)
        self.store[f"a:{article.article_id}"] = {"e": eid, "s": round(score, 4)}
        return Assignment(eid, False, round(score, 4), merged)

    def _absorb(self, ev: dict[str, Any], vec: dict[str, dict[str, float]], k: int) -> None:
        """Add a vector (an article's, or another centroid's with ``k`` members) into an event's centroid."""
        cent: dict[str, dict[str, float]] = {ch: dict(v) for ch, v in ev["c"].items()}
        for ch, v in vec.items():
            c = cent.setdefault(ch, {})
            for t, w in v.items():
                c[t] = c.get(t, 0.0) + w
        cent = {ch: {t: round(w, 5) for t, w in _top(c, self.cfg.centroid_terms).items()} for ch, c in cent.items()}
        ev["c"] = cent
        ev["q"] = {ch: round(_norm(c), 6) for ch, c in cent.items()}
        ev["k"] = int(ev["k"]) + k

    def _merge_close(self, eid: str, ev: dict[str, Any], when: datetime) -> tuple[str, ...]:
        """Fold live events whose centroid now comes close to this one into it; the absorbed record the merge."""
        unit = {ch: {t: w / (ev["q"][ch] or 1.0) for t, w in c.items()} for ch, c in ev["c"].items()}
        unit = {ch: _top(v, self.cfg.query_terms) for ch, v in unit.items()}
        merged: list[str] = []
        for other in self._candidates(unit, exclude=eid):
            oev = self._live[other]
            if self._fade(when, oev) == 0.0:
                continue
            if self._score(unit, oev) < self.cfg.merge_threshold:
                continue
            self._unpost(other)
            self._absorb(ev, oev["c"], int(oev["k"]))  # a centroid is already the sum of its members
            self._list(ev, oev["a"], _count(oev))
            ev["f"] = min(ev["f"], oev["f"])
            ev["l"] = max(ev["l"], oev["l"])
            absorbed = dict(oev)
            absorbed["merged_into"] = eid
            absorbed["c"], absorbed["q"] = {}, {}  # a merged event is never scored again; keep its record small
            self.store[f"e:{other}"] = absorbed
            merged.append(other)
        return tuple(merged)

    def _list(self, ev: dict[str, Any], article_ids: list[str], count: int) -> None:
        """Add articles to an event record: ``count`` more in all, the ids of the most recent kept."""
        ev["na"] = _count(ev) + count
        ev["a"] = [*ev["a"], *article_ids][-self.cfg.listed_articles :]

    def add_article(self, event_id: str, article_id: str) -> None:
        """Record an article (a reprint) as part of an event without moving the event's centroid."""
        eid = self.resolve(event_id)
        ev = dict(self.store[f"e:{eid}"])
        if self.store.get(f"a:{article_id}") is None:  # placed before: a redelivery, already counted
            self._list(ev, [article_id], 1)
            self.store[f"e:{eid}"] = ev
            if eid in self._live:
                self._live[eid] = ev
        self.store[f"a:{article_id}"] = {"e": eid, "s": 1.0}

    def event_of(self, article_id: str) -> str | None:
        seen = self.store.get(f"a:{article_id}")
        return self.resolve(seen["e"]) if seen else None

    def resolve(self, event_id: str) -> str:
        """Follow ``merged_into`` to the surviving event."""
        seen: set[str] = set()
        while True:
            ev = self.store.get(f"e:{event_id}")
            if not ev or not ev.get("merged_into") or event_id in seen:
                return event_id
            seen.add(event_id)
            event_id = ev["merged_into"]

    def event(self, event_id: str) -> Event:
        ev = self.store[f"e:{event_id}"]
        return Event(event_id=event_id, title=ev["t"], article_ids=tuple(ev["a"]), article_count=_count(ev),
                     first_seen=parse_time(ev["f"]),
                     last_seen=parse_time(ev["l"]), merged_into=ev.get("merged_into"))

    def events(self) -> list[Event]:
        """Every event in the store, merged ones included (their ``merged_into`` says where they went)."""
        return [self.event(key[2:]) for key in sorted(k for k in self.store.keys() if k.startswith("e:"))]

    def live_events(self) -> int:
        return len(self._live)
