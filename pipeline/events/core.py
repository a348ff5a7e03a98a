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

import functools
import heapq
import math
import re
import zlib
from array import array
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.events.dates import article_time, day_terms
from pipeline.model import Article, Event, format_time, parse_time, stable_id

__all__ = ["Assignment", "ClusterConfig", "EventClusterer", "Move", "features"]

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
_YEAR_MONTH = re.compile(r"\b((?:19|20)\d\d)\s*[/-]\s*(\d{1,2})\b")
DF_BUCKETS = 1 << 20
DF_PAGE_BITS = 8
"""Document frequencies are stored in pages of 2^8 buckets (4,096 pages): one store key per page, not per term."""


@dataclass(frozen=True)
class ClusterConfig:
    """Tuned on ECB+ dev topics 1-20 (bench/eval_events.py); see docs/events.md."""

    threshold: float = 0.26
    """Least score for an article to join a fragment rather than open one. Above the 0.21 that was best without
    settling: fragments should be pure, since a join is never undone and settles group fragments, not articles."""
    merge_threshold: float = 0.6
    """Least centroid-to-centroid score at which two live events merge."""
    max_gap: timedelta = timedelta(days=4)
    half_life: timedelta = timedelta(days=7)
    incident_gap: timedelta = timedelta(days=30)
    """How far past ``max_gap`` an article may still join an event (online or in a settle) when the two name the
    same calendar day (the incident's date: ``oct-2``, normalised by ``pipeline.events.dates``). The score is then
    faded as at ``max_gap``. Two incidents of one kind happened on different days."""
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
    probe_max: int = 20
    """A probe term held by more live events than this finds no candidates (it says little about which event
    an article belongs to, and walking its list would make a join's cost grow with the live events)."""
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
    settle_every: int = 50
    """Articles between two settles (``settle``): the recent fragments are grouped again from scratch. 0 turns
    settling off, and then every fragment is its own event (the clusterer of sessions 1-7)."""
    provisional: float = 0.21
    """An article that scores this much against an event, but less than ``threshold``, opens a fragment of its own
    that starts in that event (the first answer), and the next settle decides. Without settling it would join."""
    settle_cut: float = 0.2
    """Least average-link score (the mean pairwise score of two groups' articles) at which a settle joins them."""
    settle_window: timedelta = timedelta(days=4)
    """Fragments whose last article is older than this (in stream time) are no longer regrouped, unless a group
    still live holds them."""
    settle_max: int = 3000
    """Most fragments a settle of the whole window starts from (the most recently active first): the first settles
    of a stream and the first once rarity counts; the others start from what changed (``settle_neighbours``)."""
    settle_neighbours: int = 4
    """Fragments outside the changed groups that a settle regroups with each fragment of them: the closest by
    their shared heaviest terms (and every one sharing a rare word). Bounds a settle by what changed."""
    rare_bonus: float = 0.15
    """Added to the score of two articles that share a word at most ``rare_df`` articles hold (counted when the
    settle runs, so with hindsight): a venue, a spokesman's name, a detail of this event rather than of its kind."""
    rare_df: int = 3
    rare_after: int = 30
    """Articles seen before rarity counts: in the first few hundred articles nearly every word is in at most
    ``rare_df`` of them, and settles that early would group fragments on words that are merely new."""
    rare_keep: int = 200
    """Most rare-word buckets an article's placement record keeps (the words rare when it arrived)."""


@dataclass(frozen=True)
class Move:
    """Articles that a settle (or an online merge) took from one event to another, with their claim ids."""

    from_event: str
    to_event: str
    article_ids: tuple[str, ...]
    claim_ids: tuple[str, ...] = ()


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
    ref = article_time(article)
    for part, weight in ((article.text, 1.0), (article.title, title_weight)):
        # Calendar days the text names ("Dec. 14", "2 October", "on Tuesday" against the article's own date) and
        # "2009/04" or "2009-04-28" (article URLs often carry them).
        for key, count in day_terms(part, ref).items():
            out["d"][key] = out["d"].get(key, 0.0) + weight * count
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
    return sum(w * b[t] for t, w in a.items() if t in b)  # the same sum as adding 0.0 for the others, faster


def _top(v: dict[str, float], keep: int) -> dict[str, float]:
    if len(v) <= keep:
        return v
    return dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])


def _count(ev: dict[str, Any]) -> int:
    """Articles an event record holds, listed or not (records written before ``na`` list them all)."""
    return int(ev.get("na", len(ev["a"])))


def _same_day(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    """Both name one calendar day (``mon-day`` terms of the dates channel; ``2009-apr`` months do not count)."""
    if not a or not b:
        return False
    if len(a) > len(b):
        a, b = b, a
    return any(t in b and not t[:1].isdigit() for t in a)


@functools.lru_cache(maxsize=65536)
def _parsed(value: str | None) -> datetime | None:
    return parse_time(value)


def _earliest(x: str | None, y: str | None) -> str | None:
    return min(x, y) if x and y else (x or y)


def _latest(x: str | None, y: str | None) -> str | None:
    return max(x, y) if x and y else (x or y)


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
        # Caches for settles, derived from the store: articles' (fragment as placed, rare buckets), which never
        # change, and the centroid dot products of fragment pairs, valid while both hold the same articles.
        self._rare: dict[str, tuple[str, tuple[int, ...]]] = {}
        self._dots: dict[tuple[str, str], tuple[int, int, float]] = {}
        # Caches for local settles: (channel, term) -> live fragments holding the term among their ``probe_terms``
        # heaviest (and each fragment's such terms), and rare-word bucket -> articles whose placement lists it.
        self._tpost: dict[tuple[str, str], set[str]] = {}
        self._tops: dict[str, tuple[tuple[str, str], ...]] = {}
        self._holders: dict[int, list[str]] = {}
        # Articles placed since the last settle (their placements' ``n`` is past the settle's ``sn``).
        self._new: set[str] = set()
        settled = int(store.get("sn") or 0)
        keys = sorted(store.keys())
        quiet = str(store.get("uq") or "")
        # Cache: the latest known article time (the latest ``l`` of any event record).
        self._latest: datetime | None = None
        for key in keys:
            if key.startswith("e:"):
                ev = store[key]
                if ev.get("l") and (self._latest is None or ev["l"] > (format_time(self._latest) or "")):
                    self._latest = parse_time(ev["l"])
                if not ev.get("merged_into") and ev.get("c") and (ev.get("l") is None or ev["l"] >= quiet):
                    self._post(key[2:], ev)
            elif key.startswith("a:"):
                rec = store[key]
                for b in rec.get("r", ()):
                    self._holders.setdefault(b, []).append(key[2:])
                if int(rec.get("n", 0)) > settled:
                    self._new.add(key[2:])
        self._load_df(keys)

    # -- cache -------------------------------------------------------------------------------------------------

    def _post(self, event_id: str, ev: dict[str, Any]) -> None:
        self._live[event_id] = ev
        for ch, vec in ev["c"].items():
            for t in vec:
                self._postings.setdefault((ch, t), set()).add(event_id)
        tops = tuple((ch, t) for ch, vec in sorted(ev["c"].items()) for t in _top(vec, self.cfg.probe_terms))
        self._tops[event_id] = tops
        for key in tops:
            self._tpost.setdefault(key, set()).add(event_id)

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
        for key in self._tops.pop(event_id, ()):
            s = self._tpost.get(key)
            if s is not None:
                s.discard(event_id)
                if not s:
                    del self._tpost[key]

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

    def _learn_and_vectorise(self, article: Article) -> tuple[dict[str, dict[str, float]], list[int], list[int]]:
        """Count the article into document frequencies, then weight its terms (learning first keeps IDF finite).
        Also returns the buckets of its words that are rare so far (a word rare later was rare now: counts grow),
        and those of its words that this article made common (their count just passed ``rare_df``)."""
        feats = features(article, self.cfg.title_weight)
        n = int(self.store.get("n", 0)) + 1
        self.store["n"] = n
        out: dict[str, dict[str, float]] = {}
        learned: list[int] = []
        rare: list[int] = []
        turned: list[int] = []
        for ch, counts in feats.items():
            if not counts:
                continue
            vec: dict[str, float] = {}
            for t, f in counts.items():
                b = _bucket(ch, t)
                self._df[b] += 1
                learned.append(b)
                self._touched.add(b >> DF_PAGE_BITS)
                if ch == "w" and self._df[b] <= self.cfg.rare_df:
                    rare.append(b)
                elif ch == "w" and self._df[b] == self.cfg.rare_df + 1:
                    turned.append(b)
                vec[t] = (1.0 + math.log(f)) * math.log((n + self.cfg.prior_docs + 1) / self._df[b])
            vec = _top(vec, self.cfg.query_terms)
            norm = _norm(vec) or 1.0
            out[ch] = {t: w / norm for t, w in vec.items()}
        self.store[f"dd:{n}"] = learned
        self._pending.append(n)
        return out, sorted(rare)[: self.cfg.rare_keep], sorted(turned)[: self.cfg.rare_keep]

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

    def _fade(self, when: datetime | None, ev: dict[str, Any], vec: dict[str, dict[str, float]] | None = None) -> float:
        """1 for an event seen just now, halving every ``half_life``; 0 once quiet for longer than ``max_gap``,
        unless the article names a calendar day the event names (``incident_gap``). An unknown time on either side
        (a batch article with no date anywhere) is no evidence either way: 1."""
        last = parse_time(ev.get("l"))
        if when is None or last is None:
            return 1.0
        return self._reach(abs(when - last), vec is not None and _same_day(vec.get("d"), ev["c"].get("d")))

    def _reach(self, gap: timedelta, same_day: bool) -> float:
        if gap > self.cfg.max_gap:
            if not same_day or gap > self.cfg.incident_gap:
                return 0.0
            gap = self.cfg.max_gap
        return float(0.5 ** (gap / self.cfg.half_life))

    def _candidates(self, vec: dict[str, dict[str, float]], when: datetime | None,
                    exclude: str | None = None) -> list[str]:
        """Live events within ``max_gap`` of ``when`` sharing the article's heaviest terms, best ``rerank`` of them
        by that partial score. Out-of-reach events never take a slot, so the answer does not depend on which of
        them are still in the index (a restart puts them all back)."""
        partial: dict[str, float] = {}
        reach: dict[str, bool] = {}
        for ch, terms in vec.items():
            weight = self._weights.get(ch, 0.0)
            for t, w in _top(terms, self.cfg.probe_terms).items():
                posting = self._postings.get((ch, t), ())
                if len(posting) > self.cfg.probe_max:
                    continue  # held by that many live events, the term does not tell which one
                for eid in posting:
                    ev = self._live[eid]
                    ok = reach.get(eid)
                    if ok is None:
                        ok = reach[eid] = self._fade(when, ev, vec) > 0.0
                    if not ok:
                        continue
                    partial[eid] = partial.get(eid, 0.0) + weight * w * ev["c"][ch][t] / (ev["q"][ch] or 1.0)
        partial.pop(exclude or "", None)
        best = sorted(partial.items(), key=lambda kv: (-kv[1], kv[0]))[: self.cfg.rerank]
        return sorted(eid for eid, _ in best)

    # -- public ------------------------------------------------------------------------------------------------

    def assign(self, article: Article, claim_ids: tuple[str, ...] = ()) -> Assignment:
        """Place an article (``claim_ids``: its claims, so that a later move can name them). Every
        ``settle_every`` articles the recent fragments are regrouped (``settle``); the moves that causes come with
        the answer."""
        seen = self.store.get(f"a:{article.article_id}")
        if seen is not None:  # redelivery: same answer, no state change; moves not yet marked sent go again
            return Assignment(self.event_of(article.article_id) or seen["e"], False, float(seen["s"]),
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
            if self.cfg.settle_every and self._latest is not None and when - self._latest > self.cfg.max_gap:
                # Stream time jumps (a batch crossing weeks, a feed back after a pause): the recent fragments are
                # about to leave the settle window, so they are settled first, as the worker's idle tick would.
                early = self._settle()
            self._latest = max(when, self._latest or when)
        result = self._assign(article, when, tuple(claim_ids))
        if len(self._pending) >= self.cfg.fold_every:
            # After the article is recorded: a crash in the fold redelivers an article that is already placed.
            self._fold(int(self.store["n"]))
        n = int(self.store.get("n", 0))
        if n % self.cfg.forget_every == 0 and when is not None:
            # An article cannot be published after it was ingested: a wrong future date must not age everything.
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

    def _keep_pending(self, moves: list[Move]) -> list[Move]:
        """Record moves, after any not yet marked sent, until the driver says they were sent (``moves_sent``):
        the store is written before the driver sends anything, so a crash in between, or a send that failed,
        would otherwise lose them for good. Returns everything pending."""
        pending = self.pending_moves() + moves
        if moves:
            self.store["pm"] = [[m.from_event, m.to_event, list(m.article_ids), list(m.claim_ids)] for m in pending]
        return pending

    def pending_moves(self) -> list[Move]:
        """Moves recorded and not yet marked sent (a redelivered message sends them again)."""
        return [Move(f, t, tuple(a), tuple(c)) for f, t, a, c in self.store.get("pm") or []]

    def pieces(self, move: Move, size: int) -> list[Move]:
        """A move cut into moves of at most ``size`` articles, each with its articles' claims (so that a message
        per piece stays far below the broker's size limit)."""
        out = []
        for i in range(0, len(move.article_ids), size):
            arts = move.article_ids[i : i + size]
            mine = set(self._claims_of(arts))
            out.append(Move(move.from_event, move.to_event, arts, tuple(c for c in move.claim_ids if c in mine)))
        return out

    def moves_sent(self) -> None:
        if "pm" in self.store:
            del self.store["pm"]

    def forget(self, now: datetime) -> list[str]:
        """Drop events quiet since before ``now - retention`` (and the events merged into them) with the placements
        of their articles. Returns the forgotten event ids; live events are untouched."""
        # Events quiet for max_gap before the latest cut take no more articles (``_candidates`` skips them
        # anyway): out of the index, which stays small. The cut is kept, and only grows, so that a restart leaves
        # out the same events (``__init__``) and a late article finds the same candidates either way.
        quiet = max(format_time(now - max(self.cfg.max_gap, self.cfg.incident_gap)) or "",
                    str(self.store.get("uq") or ""))
        if quiet != self.store.get("uq"):
            self.store["uq"] = quiet
        for eid in [e for e, ev in self._live.items() if ev.get("l") is not None and ev["l"] < quiet]:
            self._unpost(eid)
        cutoff = now - self.cfg.retention
        # A live event's record is the cached one (no need to read every record back from the store each time).
        events = {k[2:]: self._live.get(k[2:]) or self.store[k] for k in list(self.store.keys()) if k.startswith("e:")}
        gone = {eid for eid, ev in events.items()
                if not ev.get("merged_into") and (parse_time(ev.get("l")) or now) < cutoff}
        # A group's label stays while any of its fragments does: the others' event id is the label's.
        for key in [k for k in self.store.keys() if k.startswith("g:")]:
            label = key[2:]
            if label in gone and any(m not in gone and m in events for m in self.store[key]["m"]):
                gone.discard(label)
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
                    self._drop_placement(key[2:])
        for eid in sorted(gone):
            for aid in events[eid]["a"]:
                self._drop_placement(aid)
            del self.store[f"e:{eid}"]
            self.store.pop(f"g:{eid}", None)
            self._unpost(eid)
        return sorted(gone)

    def _drop_placement(self, article_id: str) -> None:
        rec = self.store.get(f"a:{article_id}")
        if rec is None:
            return
        for b in rec.get("r", ()):
            holders = self._holders.get(b)
            if holders is not None and article_id in holders:
                holders.remove(article_id)
                if not holders:
                    del self._holders[b]
        del self.store[f"a:{article_id}"]
        self._new.discard(article_id)
        self._rare.pop(article_id, None)

    def _assign(self, article: Article, when: datetime | None, claim_ids: tuple[str, ...]) -> Assignment:
        vec, rare, turned = self._learn_and_vectorise(article)
        n = int(self.store["n"])
        for b in rare:
            self._holders.setdefault(b, []).append(article.article_id)
        self._new.add(article.article_id)
        best: tuple[float, str] | None = None
        for eid in self._candidates(vec, when):
            ev = self._live[eid]
            fade = self._fade(when, ev, vec)
            if fade == 0.0:
                continue
            s = self._score(vec, ev) * fade
            if best is None or s > best[0]:
                best = (s, eid)
        if best is None or best[0] < self.cfg.threshold:
            eid = stable_id("event", article.article_id)
            ev = {"t": article.title, "a": [article.article_id], "na": 1, "c": vec,
                  "q": {ch: 1.0 for ch in vec}, "f": format_time(when), "l": format_time(when), "k": 1,
                  "merged_into": None, "u": n}
            label = eid
            if self.cfg.settle_every and best is not None and best[0] >= self.cfg.provisional:
                # Close, but not close enough to join for good: a fragment of its own, in the nearest event's group
                # until the next settle decides.
                label = self._label(best[1])
                ev["g"] = label
                members = (self.store.get(f"g:{label}") or {}).get("m") or [label]
                self.store[f"g:{label}"] = {"m": sorted({*members, eid})}
            self.store[f"e:{eid}"] = ev
            self._post(eid, ev)
            self.store[f"a:{article.article_id}"] = self._placed(eid, 0.0, rare, claim_ids, n, turned)
            return Assignment(label, label == eid, round(best[0], 4) if label != eid and best else 0.0)
        score, eid = best
        ev = dict(self._live[eid])
        self._unpost(eid)
        self._absorb(ev, vec, 1)
        self._list(ev, [article.article_id], 1)
        ev["u"] = n  # changed since the last settle: the next one regroups around it
        if when is not None:
            ev["l"] = format_time(max(when, parse_time(ev.get("l")) or when))
            ev["f"] = format_time(min(when, parse_time(ev.get("f")) or when))
        merged, moves = self._merge_close(eid, ev, when)
        self.store[f"e:{eid}"] = ev
        self._post(eid, ev)
        self.store[f"a:{article.article_id}"] = self._placed(eid, round(score, 4), rare, claim_ids, n, turned)
        return Assignment(self._label(eid), False, round(score, 4), merged, moves)

    @staticmethod
    def _placed(fragment: str, score: float, rare: list[int], claim_ids: tuple[str, ...], n: int = 0,
                turned: list[int] | None = None) -> dict[str, Any]:
        """An article's placement record: its fragment, join score, rare-word buckets, claim ids, its number in
        the stream (``n``) and the words it made common (``x``), the last two for the next settle (absent when
        empty, which keeps records of the earlier layout valid)."""
        rec: dict[str, Any] = {"e": fragment, "s": score}
        if rare:
            rec["r"] = rare
        if n:
            rec["n"] = n
        if turned:
            rec["x"] = turned
        if claim_ids:
            rec["k"] = list(claim_ids)
        return rec

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

    def _merge_close(self, eid: str, ev: dict[str, Any],
                     when: datetime | None) -> tuple[tuple[str, ...], tuple[Move, ...]]:
        """Fold live fragments whose centroid now comes close to this one into it; the absorbed record the merge.
        A fragment grouped with others under another event is left to the next settle; a lone one that merges
        moves its articles to this fragment's event."""
        unit = {ch: {t: w / (ev["q"][ch] or 1.0) for t, w in c.items()} for ch, c in ev["c"].items()}
        unit = {ch: _top(v, self.cfg.query_terms) for ch, v in unit.items()}
        merged: list[str] = []
        moves: list[Move] = []
        label = self._label(eid)
        for other in self._candidates(unit, when, exclude=eid):
            oev = self._live[other]
            if self._fade(when, oev, unit) == 0.0:
                continue
            other_label = self._label(other)
            if f"g:{other}" in self.store or (other_label != label and other_label != other):
                continue  # a group's label, or a fragment of another group: the next settle decides
            if self._score(unit, oev) < self.cfg.merge_threshold:
                continue
            if other_label != label:
                moves.append(self._move(other, label, list(oev["a"])))
            self._unpost(other)
            self._absorb(ev, oev["c"], int(oev["k"]))  # a centroid is already the sum of its members
            self._list(ev, oev["a"], _count(oev))
            ev["f"] = _earliest(ev.get("f"), oev.get("f"))
            ev["l"] = _latest(ev.get("l"), oev.get("l"))
            absorbed = dict(oev)
            absorbed["merged_into"] = eid
            absorbed["c"], absorbed["q"] = {}, {}  # a merged event is never scored again; keep its record small
            self.store[f"e:{other}"] = absorbed
            merged.append(other)
        return tuple(merged), tuple(moves)

    def _move(self, from_event: str, to_event: str, article_ids: list[str]) -> Move:
        return Move(from_event, to_event, tuple(article_ids), self._claims_of(article_ids))

    def _claims_of(self, article_ids: Sequence[str]) -> tuple[str, ...]:
        """The claim ids recorded with these articles' placements, in order."""
        return tuple(c for aid in article_ids for c in (self.store.get(f"a:{aid}") or {}).get("k", ()))

    def _list(self, ev: dict[str, Any], article_ids: list[str], count: int) -> None:
        """Add articles to an event record: ``count`` more in all, the ids of the most recent kept."""
        ev["na"] = _count(ev) + count
        ev["a"] = [*ev["a"], *article_ids][-self.cfg.listed_articles :]

    def add_article(self, event_id: str, article_id: str, claim_ids: tuple[str, ...] = ()) -> None:
        """Record an article (a reprint) as part of an event's fragment without moving its centroid."""
        eid = self.resolve(event_id)
        ev = dict(self.store[f"e:{eid}"])
        seen = self.store.get(f"a:{article_id}")
        if seen is not None:  # placed before: a redelivery, already counted
            return
        self._list(ev, [article_id], 1)
        self.store[f"e:{eid}"] = ev
        if eid in self._live:
            self._live[eid] = ev
        self.store[f"a:{article_id}"] = self._placed(eid, 1.0, [], claim_ids)

    def add_copy(self, of_article: str, article_id: str, claim_ids: tuple[str, ...] = ()) -> str | None:
        """Record a reprint in the fragment of the article it copies, so that it moves with it; returns its event
        (None when the original is not placed here)."""
        seen = self.store.get(f"a:{of_article}")
        if seen is None:
            return None
        self.add_article(seen["e"], article_id, claim_ids)
        return self.event_of(article_id)

    def event_of(self, article_id: str) -> str | None:
        seen = self.store.get(f"a:{article_id}")
        return self._label(seen["e"]) if seen else None

    def current(self, event_id: str) -> str:
        """The event an id now stands for: merges (``merged_into``) and settled groups followed."""
        return self._label(event_id)

    def _label(self, fragment: str) -> str:
        """The event a fragment belongs to: the fragment itself, or the group a settle put it in (``g``)."""
        f = self.resolve(fragment)
        seen: set[str] = set()
        while f not in seen:
            seen.add(f)
            ev = self._live.get(f) or self.store.get(f"e:{f}")
            g = (ev.get("g") or f) if ev else f
            if g == f:
                return f
            g = self.resolve(g)
            if g == f or (g not in self._live and self.store.get(f"e:{g}") is None):
                return f
            f = g
        return f

    # -- settling ----------------------------------------------------------------------------------------------

    def settle(self) -> list[Move]:
        """Regroup the recent fragments from scratch and return the articles that changed event.

        A fragment is what online joins build: articles that scored above ``threshold`` against it, never undone.
        Events are groups of fragments. A settle takes the fragments active within ``settle_window`` of the latest
        one (with every fragment of their current groups) and joins them by average link: the score of two groups
        is the mean score of their article pairs (per-channel centroid dot products, which average exactly, plus
        ``rare_bonus`` for each pair sharing a word that at most ``rare_df`` articles hold now), faded by the time
        between them; the best pair at or above ``settle_cut`` joins, until none is left. A group's event id is its
        earliest fragment's (first article time, then id), so a group that only grows keeps its id. What
        hindsight adds: a word that was rare when an article arrived and is still rare now marks one event; one
        that turned common was the kind of event. A settle with no new article since the last one does nothing.
        """
        return self._keep_pending(self._settle())

    def _settle(self) -> list[Move]:
        n = int(self.store.get("n", 0))
        last = self.store.get("sn")
        if not self.cfg.settle_every or last == n:
            return []
        self.store["sn"] = n
        eligible = self._eligible()
        changed = None if last is None or int(last) < self.cfg.rare_after else self._changed(int(last), eligible)
        self._new.clear()  # as a restart would find them: placed before this settle
        if not eligible:
            return []
        if changed is None:
            # The first settles, and the first since rarity counts: every recent fragment (most recent first).
            seeds = [f for _, f in sorted(((eligible[f].get("l") or "~", f) for f in eligible),
                                           reverse=True)[: self.cfg.settle_max]]
        else:
            seeds = list(changed)
        frags, core = self._region(sorted(seeds), eligible)
        if not frags:
            return []
        if len(self._dots) > 8 * len(eligible) * self.cfg.settle_neighbours:
            # Dot products of unchanged pairs are kept from one settle to the next; those of fragments that left
            # the window go (cheap to redo, so the rule only bounds memory).
            self._dots = {k: v for k, v in self._dots.items() if k[0] in eligible and k[1] in eligible}
        ids = sorted(frags)
        pair = self._settle_scores(frags, core)
        groups = self._average_link(ids, {f: int(frags[f]["k"]) for f in ids}, pair)
        return self._relabel(frags, groups)

    def _eligible(self) -> dict[str, dict[str, Any]]:
        """Fragments a settle may regroup: live ones active within ``settle_window`` of the latest (all of them
        when one has an unknown time, a batch without dates)."""
        live = [(ev.get("l") or "~", eid) for eid, ev in self._live.items() if not ev.get("merged_into")]
        known = [lt for lt, _ in live if lt != "~"]
        latest = parse_time(max(known)) if known else None
        cutoff = format_time(latest - self.cfg.settle_window) if latest is not None else ""
        if any(lt == "~" for lt, _ in live):
            cutoff = ""
        return {eid: self._live[eid] for lt, eid in live if lt >= (cutoff or "")}

    def _changed(self, last: int, eligible: dict[str, dict[str, Any]]) -> set[str]:
        """Fragments whose score against another may have changed since the settle at article ``last``: those
        that took articles (``u``), and those holding a word that a new article made common (the bonus their
        articles had for it is gone). A word that a new article shares while still rare pairs that article's
        fragment with its holders, which ``_region`` finds."""
        seeds = {f for f, ev in eligible.items() if int(ev.get("u", 0)) > last}
        for aid in sorted(self._new):
            rec = self.store.get(f"a:{aid}")
            for b in (rec or {}).get("x", ()):
                for other in self._holders.pop(b, ()):  # common from now on: no settle needs its holders again
                    placed = self._placement(other)
                    if placed is not None and self.resolve(placed[0]) in eligible:
                        seeds.add(self.resolve(placed[0]))
        return seeds

    def _members(self, fragment: str) -> list[str]:
        """The fragments of a fragment's current group (itself included), those still scored."""
        label = self._label(fragment)
        out = []
        for member in [label, *((self.store.get(f"g:{label}") or {}).get("m", ()))]:
            ev = self._live.get(member) or self.store.get(f"e:{member}")
            if ev is not None and not ev.get("merged_into") and ev.get("c") and member not in out:
                out.append(member)
        return out or [fragment]

    def _region(self, seeds: list[str],
                eligible: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """What a settle regroups: the seeds' groups, the recent fragments those could pair with (a shared heavy
        term or a shared rare word, within reach in time), and those fragments' groups. Groups elsewhere keep
        their events, so a settle's cost follows what changed, not how many events are live."""
        out: dict[str, dict[str, Any]] = {}

        def take(f: str) -> None:
            for member in self._members(f):
                if member not in out:
                    out[member] = self._live.get(member) or self.store[f"e:{member}"]

        for f in seeds:
            if f not in out:
                take(f)
        core = sorted(out)
        near: set[str] = set()
        counting = int(self.store.get("n", 0)) >= self.cfg.rare_after
        for f in seeds:
            ev = out[f]
            # The fragments closest to this one by their shared heaviest terms (cosine over those terms, as the
            # join's candidates are found), best ``settle_neighbours`` within reach in time.
            partial: dict[str, float] = {}
            for ch, t in self._tops.get(f, ()):
                weight = self._weights.get(ch, 0.0)
                mine = ev["c"][ch][t] / (ev["q"][ch] or 1.0)
                for g in self._tpost.get((ch, t), ()):
                    if g in eligible and g not in out:
                        other = eligible[g]
                        partial[g] = partial.get(g, 0.0) + weight * mine * other["c"][ch][t] / (other["q"][ch] or 1.0)
            best = sorted(partial.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = 0
            for g, _ in best:
                if kept >= self.cfg.settle_neighbours:
                    break
                if self._pair_fade(ev, eligible[g]) > 0.0:
                    near.add(g)
                    kept += 1
            for aid in ev["a"] if counting else ():
                known = self._placement(aid)
                if known is None or known[0] != f:
                    continue
                for b in known[1]:
                    if 2 <= self._df[b] <= self.cfg.rare_df:
                        for holder in self._holders.get(b, ()):
                            placed = self._placement(holder)
                            label = self.resolve(placed[0]) if placed is not None else None
                            if label is not None and label in eligible and label not in out:
                                near.add(label)
        for g in sorted(near):
            if g not in out and any(self._pair_fade(out[f], eligible[g]) > 0.0 for f in core):
                take(g)
        return out, set(core)

    def _placement(self, article_id: str) -> tuple[str, tuple[int, ...]] | None:
        """An article's fragment (as placed: ``resolve`` follows merges) and rare-word buckets, which never change
        once written; cached, read from the store once."""
        known = self._rare.get(article_id)
        if known is None:
            rec = self.store.get(f"a:{article_id}")
            if rec is None:
                return None
            known = self._rare[article_id] = (rec["e"], tuple(rec.get("r", ())))
        return known

    def _pair_fade(self, ea: dict[str, Any], eb: dict[str, Any]) -> float:
        fa, la, fb, lb = _parsed(ea.get("f")), _parsed(ea.get("l")), _parsed(eb.get("f")), _parsed(eb.get("l"))
        if fa is None or la is None or fb is None or lb is None:
            return 1.0  # a fragment of unknown time: no evidence either way
        return self._reach(max(timedelta(0), fa - lb, fb - la), _same_day(ea["c"].get("d"), eb["c"].get("d")))

    def _settle_scores(self, frags: dict[str, dict[str, Any]],
                       core: set[str] | None = None) -> dict[tuple[str, str], float]:
        """Mean pair score of every two fragments that share a heavy term or a rare word (others score 0)."""
        where: dict[str, str] = {}
        rare_posts: dict[int, list[str]] = {}
        counting = int(self.store.get("n", 0)) >= self.cfg.rare_after
        for f in sorted(frags):
            for aid in frags[f]["a"]:
                known = self._placement(aid)
                if known is None or known[0] != f:
                    continue
                where[aid] = f
                for bucket in known[1] if counting else ():
                    if 2 <= self._df[bucket] <= self.cfg.rare_df:
                        rare_posts.setdefault(bucket, []).append(aid)
        shared: dict[tuple[str, str], int] = {}
        rare_pairs: set[tuple[str, str]] = set()
        for arts in rare_posts.values():
            for i, x in enumerate(arts):
                for y in arts[i + 1 :]:
                    if where[x] != where[y]:
                        rare_pairs.add((min(x, y), max(x, y)))
        for x, y in rare_pairs:
            fa, fb = sorted((where[x], where[y]))
            shared[(fa, fb)] = shared.get((fa, fb), 0) + 1
        postings: dict[tuple[str, str], list[str]] = {}
        for f in sorted(frags):
            tops = self._tops.get(f)
            if tops is None:  # a fragment no longer live, in a group that is
                tops = tuple((ch, t) for ch, vec in sorted(frags[f]["c"].items())
                             for t in _top(vec, self.cfg.probe_terms))
            for key in tops:
                postings.setdefault(key, []).append(f)
        candidates = set(shared)
        if core is None:
            for fs in postings.values():
                if len(fs) > 1:
                    candidates.update((a, b) for i, a in enumerate(fs) for b in fs[i + 1 :])
        else:
            # Two groups outside what changed were settled apart (or together) before, on the same evidence:
            # only their own members' pairs count, and the pairs with what changed.
            label = {f: self._label(f) for f in frags}
            candidates = {(a, b) for a, b in candidates if a in core or b in core or label[a] == label[b]}
            for fs in postings.values():
                if len(fs) < 2:
                    continue
                inside = [f for f in fs if f in core]
                for a in inside:
                    candidates.update((min(a, b), max(a, b)) for b in fs if b != a)
                by_label: dict[str, list[str]] = {}
                for f in fs:
                    if f not in core:
                        by_label.setdefault(label[f], []).append(f)
                for members in by_label.values():
                    candidates.update((a, b) for i, a in enumerate(members) for b in members[i + 1 :])
        out: dict[tuple[str, str], float] = {}
        dots = self._dots
        for a, b in sorted(candidates):
            ea, eb = frags[a], frags[b]
            fade = self._pair_fade(ea, eb)
            if fade == 0.0:
                continue
            ka, kb = int(ea["k"]), int(eb["k"])
            cached = self._dots.get((a, b))
            if cached is not None and cached[:2] == (ka, kb):
                dot = cached[2]
            else:
                dot = 0.0
                for ch, weight in self._weights.items():
                    ca, cb = ea["c"].get(ch), eb["c"].get(ch)
                    if ca and cb:
                        dot += weight * _dot(ca, cb)
            dots[(a, b)] = (ka, kb, dot)
            pairs = ka * kb
            score = dot / pairs
            score += self.cfg.rare_bonus * shared.get((a, b), 0) / pairs
            score *= fade
            if score > 0:
                out[(a, b)] = score
        return out

    def _average_link(self, ids: list[str], size: dict[str, int],
                      pair: dict[tuple[str, str], float]) -> list[list[str]]:
        """Agglomerative average link over a sparse score graph (a missing pair scores 0), ties broken by id."""
        members = {f: [f] for f in ids}
        weight = dict(size)
        near: dict[str, dict[str, float]] = {f: {} for f in ids}
        for (a, b), v in pair.items():
            near[a][b] = v
            near[b][a] = v
        heap = [(-v, a, b) for (a, b), v in pair.items() if v >= self.cfg.settle_cut]
        heapq.heapify(heap)
        while heap:
            v, a, b = heapq.heappop(heap)
            if a not in members or b not in members or near[a].get(b) != -v:
                continue
            # b joins a; a's similarities become the size-weighted mean of both (average link, exact for means).
            wa, wb = weight[a], weight[b]
            merged: dict[str, float] = {}
            for c in set(near[a]) | set(near[b]):
                if c in (a, b):
                    continue
                merged[c] = (wa * near[a].get(c, 0.0) + wb * near[b].get(c, 0.0)) / (wa + wb)
            for c in near.pop(b):
                near[c].pop(b, None)
            members[a] += members.pop(b)
            weight[a] = wa + wb
            near[a] = merged
            for c, val in merged.items():
                near[c][a] = val
                if val >= self.cfg.settle_cut:
                    heapq.heappush(heap, (-val, min(a, c), max(a, c)))
        return [sorted(m) for _, m in sorted(members.items())]

    def _relabel(self, frags: dict[str, dict[str, Any]], groups: list[list[str]]) -> list[Move]:
        """Write the new groups and return the moves: for every fragment whose event changed, its articles."""
        before = {f: self._label(f) for f in frags}
        old_groups = {lab for lab in before.values() if f"g:{lab}" in self.store}
        moved: dict[tuple[str, str], list[str]] = {}
        new_groups: dict[str, list[str]] = {}
        for group in groups:
            # The earliest dated fragment names the group (first article time, then id); undated ones come last.
            label = min(group, key=lambda f: (frags[f].get("f") is None, frags[f].get("f") or "", f))
            if len(group) > 1:
                new_groups[label] = group
            for f in group:
                want = None if f == label else label
                if frags[f].get("g") != want:
                    ev = dict(frags[f])
                    if want is None:
                        ev.pop("g", None)
                    else:
                        ev["g"] = want
                    self.store[f"e:{f}"] = ev
                    if f in self._live:
                        self._live[f] = ev
                if before[f] != label:
                    moved.setdefault((before[f], label), []).extend(frags[f]["a"])
        for lab in sorted(old_groups - set(new_groups)):
            self.store.pop(f"g:{lab}", None)
        for lab, group in sorted(new_groups.items()):
            if (self.store.get(f"g:{lab}") or {}).get("m") != group:
                self.store[f"g:{lab}"] = {"m": group}
        return [self._move(a, b, arts) for (a, b), arts in sorted(moved.items())]

    def resolve(self, event_id: str) -> str:
        """Follow ``merged_into`` to the surviving event."""
        seen: set[str] = set()
        while True:
            if event_id in self._live:  # live fragments are never merged (a merge takes them out)
                return event_id
            ev = self.store.get(f"e:{event_id}")
            if not ev or not ev.get("merged_into") or event_id in seen:
                return event_id
            seen.add(event_id)
            event_id = ev["merged_into"]

    def event(self, event_id: str) -> Event:
        """An event as people see it: a group's record lists the articles of all its fragments; a fragment in
        another event's group (or merged into another fragment) says where it went in ``merged_into``."""
        ev = self.store[f"e:{event_id}"]
        where = ev.get("merged_into")
        if where is None and self._label(event_id) != event_id:
            where = self._label(event_id)
        parts = [ev]
        if where is None:
            for member in (self.store.get(f"g:{event_id}") or {}).get("m", ()):
                rec = self.store.get(f"e:{member}")
                if member != event_id and rec is not None and not rec.get("merged_into"):
                    parts.append(rec)
        articles = [a for p in sorted(parts, key=lambda p: p.get("l") or "~") for a in p["a"]]
        firsts = [p["f"] for p in parts if p.get("f")]
        lasts = [p["l"] for p in parts if p.get("l")]
        return Event(event_id=event_id, title=ev["t"], article_ids=tuple(articles[-self.cfg.listed_articles :]),
                     article_count=sum(_count(p) for p in parts),
                     first_seen=parse_time(min(firsts)) if firsts else None,
                     last_seen=parse_time(max(lasts)) if lasts else None, merged_into=where)

    def events(self) -> list[Event]:
        """Every event in the store, merged ones included (their ``merged_into`` says where they went)."""
        return [self.event(key[2:]) for key in sorted(k for k in self.store.keys() if k.startswith("e:"))]

    def live_events(self) -> int:
        return len(self._live)
