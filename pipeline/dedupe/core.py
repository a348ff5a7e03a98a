"""Wire reprints: the same story carried by several outlets is one source with many carriers.

Exact content hash first, then MinHash over word 5-shingles with LSH candidates and a containment check, so a copy
with a new byline, an edited lead, boilerplate appended or its end cut is a reprint, while a rewrite of the same
event (different sentences about the same facts) is not. State lives in ``store`` (JSON values, top-level sets
only); the LSH index is a cache rebuilt from it.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from datasketch import MinHash, MinHashLSH

from pipeline.model import Article, format_time, parse_time

__all__ = ["ReprintDecision", "ReprintIndex", "shingles"]

NUM_PERM = 64
SHINGLE = 5
_WORD = re.compile(r"\w+")


def shingles(text: str, k: int = SHINGLE) -> set[bytes]:
    words = _WORD.findall(text.lower())
    if len(words) < k:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + k]).encode() for i in range(len(words) - k + 1)}


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
                 threshold: float = 0.6, containment: float = 0.8) -> None:
        self.store = store
        self.window = window
        self.threshold = threshold
        self.containment = containment
        # Candidates at a lower Jaccard than the decision threshold: truncated copies have low Jaccard but high
        # containment, and the exact check below decides.
        self._lsh = MinHashLSH(threshold=0.3, num_perm=NUM_PERM)
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
        best: tuple[float, str] | None = None
        for cand in self._lsh.query(_minhash(sh)):
            rec = self.store.get(f"r:{cand}")
            if rec is None:
                continue
            other = {s.encode() for s in rec["sh"]}
            inter = len(sh & other)
            jac = inter / len(sh | other)
            cont = inter / min(len(sh), len(other))
            score = max(jac, cont if cont >= self.containment else 0.0)
            if (jac >= self.threshold or cont >= self.containment) and (best is None or score > best[0]):
                best = (score, cand)
        if best is None:
            return ReprintDecision(None, 0.0)
        return ReprintDecision(self._canonical(best[1]), round(best[0], 4))

    def _canonical(self, article_id: str) -> str:
        rec = self.store.get(f"r:{article_id}")
        return rec["dup"] if rec and rec.get("dup") else article_id

    def add(self, article: Article, decision: ReprintDecision) -> None:
        key = f"r:{article.article_id}"
        if key in self.store:
            return
        sh = sorted(s.decode() for s in shingles(article.text))
        when = article.published or datetime.now(timezone.utc)
        rec = {"h": article.content_hash, "mh": [int(x) for x in _minhash({s.encode() for s in sh}).hashvalues],
               "sh": sh, "o": article.outlet_id, "t": format_time(when), "dup": decision.duplicate_of,
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
