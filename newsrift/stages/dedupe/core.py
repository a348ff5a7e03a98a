"""Wire reprints: the same story carried by several outlets is one source with many carriers.

Exact content hash first, then MinHash over word 5-shingles with LSH candidates and an exact check on the shingle
hashes, so a copy with a new byline, an edited lead, boilerplate appended or its end cut is a reprint, while a
rewrite of the same event (different sentences about the same facts) is not: rewrites share a quote or a name
phrase, a few shingles, where copies share most of the shorter text. State lives in ``store`` (JSON values, one
top-level key per article); the LSH index and the hash lookup are caches rebuilt from it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from datasketch import MinHash, MinHashLSH

from newsrift.model import Article, format_time, parse_time
from newsrift.stages.events.dates import article_time

__all__ = ["ReprintDecision", "ReprintIndex", "shingles", "speech_shingles"]

NUM_PERM = 128
SHINGLE = 5
_WORD = re.compile(r"\w+")
# A quotation: straight or curly double quotes around at most 600 characters holding no other opening quote.
_QUOTED = re.compile(r'["\u201c][^"\u201c\u201d]{0,600}?["\u201d]')
# A sentence ends at . ! ? (a closing quote may follow) before a capital or an opening quote, or at a line break:
# "the U.S. suspects" stays one sentence.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\"\u201d])\s+(?=[A-Z\"\u201c])|\n+")
# Reported speech: a sentence that attributes what it says (the statement said, officials told, according to).
# Verbs only where the word is seldom a noun ("the Gulf states", "insurance claims" are narration).
_SPEECH = re.compile(r"\b(?:said|says|say|saying|told|tells|stated|according to|added|adding|announced|claimed|"
                     r"denied|denies|insisted|warned|tweeted|wrote|noted|explained)\b", re.I)
PASSAGE = 8
"""Words a shared passage of the outlet's narration needs to count (a name phrase or a stock phrase is shorter)."""
SAMPLE = 4
"""One shingle hash in ``SAMPLE`` (those divisible by it) goes into the candidate index beside LSH: a lightly
edited copy whose edits break most shingles (Jaccard near 0.1) still shares a few sampled ones."""


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


def quoted_shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    """Shingles that lie wholly inside quotations. Independent rewrites of one event quote the same statements;
    only a copy also shares the outlet's own sentences, so the shared shingles outside quotes tell them apart."""
    out: set[bytes] = set()
    for m in _QUOTED.finditer(text):
        out |= shingles(m.group(0), k) if len(_WORD.findall(m.group(0))) >= k else set()
    return out


def speech_shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    """Shingles touching a sentence of reported speech ("the statement said the airship ..."). Outlets that write
    independently render one official statement in much the same words; that is the statement's text, not theirs."""
    flags: list[bool] = []
    words: list[str] = []
    for sentence in _SENTENCE_BREAK.split(text):
        ws = _WORD.findall(sentence.lower())
        words += ws
        flags += [bool(_SPEECH.search(sentence))] * len(ws)
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1) if any(flags[i : i + k])}


def _ordered(text: str, k: int = SHINGLE) -> list[int]:
    """The text's shingle hashes in reading order (one per position), to find shared passages."""
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return [zlib.crc32(" ".join(words).encode())] if words else []
    return [zlib.crc32(" ".join(words[i : i + k]).encode()) for i in range(len(words) - k + 1)]


def _hashes(sh: set[bytes]) -> set[int]:
    """32-bit shingle hashes: what the store keeps, a quarter of the text's size and cheap to intersect."""
    return {zlib.crc32(x) for x in sh}


def _minhash(sh: set[bytes]) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32")
    m.update_batch(list(sh))
    return m


@dataclass(frozen=True)
class ReprintDecision:
    duplicate_of: str | None
    similarity: float


class ReprintIndex:
    """``check`` then ``add`` each article in arrival order; ``carriers`` lists the outlets of a story."""

    def __init__(self, store: MutableMapping[str, Any], *, window: timedelta = timedelta(days=7),
                 threshold: float = 0.6, containment: float = 0.7, partial_containment: float = 0.45,
                 min_shared: int = 25, min_own: int = 25, own_containment: float = 0.3,
                 long_passage: int = 50) -> None:
        """A candidate is a copy when Jaccard >= ``threshold``, or when it holds >= ``containment`` of the shorter
        text's shingles, or >= ``partial_containment`` of them and at least ``min_shared`` shingles outside quotations
        (a short story re-run with a new lead and a footer: the shared run is long even if the share is modest), or when
        the two share at least ``min_own`` shingles outside quotations and ``own_containment`` of the shorter text's
        shingles outside quotations (the outlet's own prose: a lightly edited wire copy whose house-style edits
        break most shingles still shares a third of it; independent rewrites share quotes and a phrase or two).
        These two rules also need a shared passage of ``PASSAGE`` words or more that is not wholly reported speech,
        or one of ``long_passage`` words (``_own_prose``): two outlets that render one official statement alike
        share the statement's wording, a copy shares the outlet's own narration too."""
        self.store = store
        self.window = window
        self.threshold = threshold
        self.containment = containment
        self.partial_containment = partial_containment
        self.min_shared = min_shared
        self.min_own = min_own
        self.own_containment = own_containment
        self.long_passage = long_passage
        # Candidates at a much lower Jaccard than any decision threshold: a copy cut to half its length, with a
        # new lead and a footer, has Jaccard near 0.2 but high containment, and the exact check below decides.
        self._lsh = MinHashLSH(threshold=0.15, num_perm=NUM_PERM)
        self._hash: dict[str, str] = {}
        self._sampled: dict[int, list[str]] = {}
        for key, value in list(store.items()):
            if key.startswith("r:"):
                self._index(key[2:], value)

    def _index(self, article_id: str, rec: dict[str, Any]) -> None:
        mh = MinHash(num_perm=NUM_PERM, seed=7, hashvalues=rec["mh"], scheme="affine32")
        if article_id not in self._lsh.keys:
            self._lsh.insert(article_id, mh)
        self._hash.setdefault(rec["h"], article_id)
        for h in rec["sh"]:
            if h % SAMPLE == 0:
                self._sampled.setdefault(h, []).append(article_id)

    def _unindex(self, article_id: str, rec: dict[str, Any]) -> None:
        if article_id in self._lsh.keys:
            self._lsh.remove(article_id)
        if self._hash.get(rec["h"]) == article_id:
            del self._hash[rec["h"]]
        for h in rec["sh"]:
            if h % SAMPLE == 0:
                posting = self._sampled.get(h)
                if posting is not None and article_id in posting:
                    posting.remove(article_id)
                    if not posting:
                        del self._sampled[h]

    def check(self, article: Article) -> ReprintDecision:
        prev = self.store.get(f"r:{article.article_id}")
        if prev is not None:  # redelivery: the decision made the first time
            return ReprintDecision(prev.get("dup"), float(prev.get("sim", 1.0)))
        h = article.content_hash
        if h in self._hash and self._hash[h] != article.article_id:
            return ReprintDecision(self._canonical(self._hash[h]), 1.0)
        sh = shingles(article.text)
        if not sh:
            return ReprintDecision(None, 0.0)
        hs = _hashes(sh)
        quoted = _hashes(quoted_shingles(article.text))
        speech = _hashes(speech_shingles(article.text))
        order = _ordered(article.text)
        best: tuple[float, str] | None = None
        cands = set(self._lsh.query(_minhash(sh)))
        cands.update(c for h in hs if h % SAMPLE == 0 for c in self._sampled.get(h, ()))
        for cand in sorted(cands):
            rec = self.store.get(f"r:{cand}")
            if rec is None or cand == article.article_id:
                continue
            other = set(rec["sh"])
            common = hs & other
            inter = len(common)
            jac = inter / len(hs | other)
            cont = inter / min(len(hs), len(other))
            copy = jac >= self.threshold or cont >= self.containment
            if not copy and inter >= min(self.min_shared, self.min_own):
                # Past the two plain rules, only shingles outside quotations count: rewrites share quotes.
                theirs = set(rec.get("q", ()))
                own_set = common - quoted - theirs
                own = len(own_set)
                copy = ((cont >= self.partial_containment and own >= self.min_shared)
                        or (own >= self.min_own
                            and own >= self.own_containment * min(len(hs - quoted), len(other - theirs))))
                copy = copy and self._own_prose(order, own_set, speech | set(rec.get("sp", ())))
            score = max(jac, cont)
            if copy and (best is None or score > best[0]):
                best = (score, cand)
        if best is None:
            return ReprintDecision(None, 0.0)
        return ReprintDecision(self._canonical(best[1]), round(best[0], 4))

    def _own_prose(self, order: list[int], own: set[int], speech: set[int]) -> bool:
        """Whether the shared prose (``own``: unquoted shared shingle hashes) holds the outlet's own text rather than
        only an official statement that both render in the same words. Passages are the runs of shared shingles in
        reading order. Reported speech ("the statement said the airship ...", in ``speech``) is the speaker's
        content, which outlets writing independently phrase alike, much as they share a quote; a copy, even lightly
        edited, also keeps the outlet's own narration. So the shared prose needs a passage of ``PASSAGE`` words or
        more that is not wholly reported speech, or one passage of ``long_passage`` words (a whole paragraph)."""
        run = 0
        reported = True
        for h in [*order, None]:
            if h is not None and h in own:
                run += 1
                reported = reported and h in speech
                continue
            words = run + SHINGLE - 1 if run else 0
            if words >= self.long_passage or (words >= PASSAGE and not reported):
                return True
            run, reported = 0, True
        return False

    def check_recorded(self, article_id: str) -> tuple[str | None, float | None] | None:
        """The decision recorded for an article (duplicate_of, similarity), or None when it is not recorded."""
        rec = self.store.get(f"r:{article_id}")
        if rec is None:
            return None
        dup = rec.get("dup")
        return dup, (float(rec["sim"]) if dup and rec.get("sim") is not None else None)

    def _canonical(self, article_id: str) -> str:
        rec = self.store.get(f"r:{article_id}")
        return rec["dup"] if rec and rec.get("dup") else article_id

    def add(self, article: Article, decision: ReprintDecision) -> None:
        key = f"r:{article.article_id}"
        if key in self.store:
            return
        sh = shingles(article.text)
        # Unknown in a batch without dates: such a record is never evicted (a batch is bounded) and ages nothing.
        when = article_time(article) or article.ingested_at
        rec = {"h": article.content_hash, "mh": [int(x) for x in _minhash(sh).hashvalues],
               "sh": sorted(_hashes(sh)), "q": sorted(_hashes(quoted_shingles(article.text))),
               "sp": sorted(_hashes(speech_shingles(article.text))), "o": article.outlet_id,
               "t": format_time(when), "dup": decision.duplicate_of,
               "sim": decision.similarity}
        self.store[key] = rec
        self._index(article.article_id, rec)
        canonical = decision.duplicate_of or article.article_id
        ckey = f"c:{canonical}"
        carriers = list(self.store.get(ckey) or [])
        if article.outlet_id not in carriers:
            carriers.append(article.outlet_id)
            self.store[ckey] = carriers
        if when is not None:
            self._evict(when)

    def carriers(self, article_id: str) -> list[str]:
        return list(self.store.get(f"c:{self._canonical(article_id)}") or [])

    def _evict(self, now: datetime) -> None:
        """Forget stories older than the window (checked now and then, not on every article)."""
        count = int(self.store.get("n", 0)) + 1
        self.store["n"] = count
        if count % 200:
            return
        cutoff = now - self.window
        for key in [k for k in list(self.store.keys()) if k.startswith("r:")]:
            rec = self.store[key]
            t = parse_time(rec.get("t"))
            if t is not None and t < cutoff:
                aid = key[2:]
                del self.store[key]
                self._unindex(aid, rec)
                self.store.pop(f"c:{aid}", None)
