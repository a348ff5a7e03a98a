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
from datetime import datetime, timedelta, timezone
from typing import Any

from datasketch import MinHash, MinHashLSH

from pipeline.model import Article, format_time, parse_time

__all__ = ["ReprintDecision", "ReprintIndex", "shingles"]

NUM_PERM = 128
SHINGLE = 5
_WORD = re.compile(r"\w+")


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


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
                 min_shared: int = 25) -> None:
        """A candidate is a copy when Jaccard >= ``threshold``, or when it holds >= ``containment`` of the shorter
        text's shingles, or >= ``partial_containment`` of them and at least ``min_shared`` shingles (a short
        story re-run with a new lead and a footer: the shared run is long even if the share is modest)."""
        self.store = store
        self.window = window
        self.threshold = threshold
        self.containment = containment
        self.partial_containment = partial_containment
        self.min_shared = min_shared
        # Candidates at a much lower Jaccard than any decision threshold: a copy cut to half its length, with a
        # new lead and a footer, has Jaccard near 0.2 but high containment, and the exact check below decides.
        self._lsh = MinHashLSH(threshold=0.15, num_perm=NUM_PERM)
        self._hash: dict[str, str] = {}
        for key, value in list(store.items()):
            if key.startswith("r:"):
                self._index(key[2:], value)

    def _index(self, article_id: str, rec: dict[str, Any]) -> None:
        mh = MinHash(num_perm=NUM_PERM, seed=7, hashvalues=rec["mh"], scheme="affine32")
        if article_id not in self._lsh.keys:
            self._lsh.insert(article_id, mh)
        self._hash.setdefault(rec["h"], article_id)

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
        best: tuple[float, str] | None = None
        for cand in sorted(self._lsh.query(_minhash(sh))):
            rec = self.store.get(f"r:{cand}")
            if rec is None:
                continue
            other = set(rec["sh"])
            inter = len(hs & other)
            jac = inter / len(hs | other)
            cont = inter / min(len(hs), len(other))
            copy = (jac >= self.threshold or cont >= self.containment
                    or (cont >= self.partial_containment and inter >= self.min_shared))
            score = max(jac, cont)
            if copy and (best is None or score > best[0]):
                best = (score, cand)
        if best is None:
            return ReprintDecision(None, 0.0)
        return ReprintDecision(self._canonical(best[1]), round(best[0], 4))

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
        when = article.published or article.ingested_at or datetime.now(timezone.utc)
        rec = {"h": article.content_hash, "mh": [int(x) for x in _minhash(sh).hashvalues],
               "sh": sorted(_hashes(sh)), "o": article.outlet_id, "t": format_time(when), "dup": decision.duplicate_of,
               "sim": decision.similarity}
        self.store[key] = rec
        self._index(article.article_id, rec)
        canonical = decision.duplicate_of or article.article_id
        ckey = f"c:{canonical}"
        carriers = list(self.store.get(ckey) or [])
        if article.outlet_id not in carriers:
            carriers.append(article.outlet_id)
            self.store[ckey] = carriers
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
                if aid in self._lsh.keys:
                    self._lsh.remove(aid)
                if self._hash.get(rec["h"]) == aid:
                    del self._hash[rec["h"]]
                self.store.pop(f"c:{aid}", None)
