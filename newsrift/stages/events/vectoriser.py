"""The vectoriser: an article as five L2-normalised TF-IDF vectors ("channels"), with document frequencies learnt
as articles arrive.

Channels: stemmed words (``w``), word bigrams (``b``), names (``p``: capitalised words not opening a sentence, plus
spaCy entities when the article carries them), years (``y``) and calendar days the text states (``d``: ``dec-14``,
``2009-apr``). They are normalised apart, so that a short article's few names weigh as much as a long article's many
words. Document frequencies are counted in 2^20 hashed buckets (bounded state), ``prior_docs`` pseudo documents keep
IDF flat while little has been seen. Each article's increments wait in one store key (``df+:<n>``) until
``fold_every`` articles have come; a fold writes the pages of 2^8 buckets they touched (``df:<page>``, marked with
the article they are folded through, so a fold cut short is neither lost nor counted twice).
"""

from __future__ import annotations

import math
import re
import zlib
from array import array
from dataclasses import dataclass

from newsrift.model import Article
from newsrift.stages.events.config import ClusterConfig
from newsrift.stages.events.dates import article_time, day_terms
from newsrift.stages.events.state import DfPage, EventState, Vector

__all__ = ["DF_BUCKETS", "Vectorised", "Vectoriser", "dot", "features", "norm", "same_day", "top"]

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
CHANNELS = ("w", "b", "p", "y", "d")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_YEAR_MONTH = re.compile(r"\b((?:19|20)\d\d)\s*[/-]\s*(\d{1,2})\b")
DF_BUCKETS = 1 << 20
DF_PAGE_BITS = 8


def _stem(word: str) -> str:
    # Plural folding only: enough to join "robbers"/"robber" without a stemmer's surprises on names.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def features(article: Article, title_weight: float = 2.0) -> Vector:
    """Raw term counts per channel (``w`` words, ``b`` bigrams, ``p`` names, ``y`` years, ``d`` calendar dates)."""
    out: Vector = {ch: {} for ch in CHANNELS}
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


def bucket(channel: str, term: str) -> int:
    return zlib.crc32(f"{channel}:{term}".encode()) % DF_BUCKETS


def dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(w * b[t] for t, w in a.items() if t in b)  # the same sum as adding 0.0 for the others, faster


def top(v: dict[str, float], keep: int) -> dict[str, float]:
    """The ``keep`` heaviest terms (ties by term)."""
    if len(v) <= keep:
        return v
    return dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])


def norm(v: dict[str, float]) -> float:
    return math.sqrt(sum(w * w for w in v.values()))


def same_day(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    """Both name one calendar day (``mon-day`` terms of the dates channel; ``2009-apr`` months do not count)."""
    if not a or not b:
        return False
    if len(a) > len(b):
        a, b = b, a
    return any(t in b and not t[:1].isdigit() for t in a)


@dataclass(frozen=True)
class Vectorised:
    vector: Vector
    rare: list[int]
    """Buckets of its words that are rare so far (at most ``rare_df`` articles: a word rare later was rare now)."""
    turned: list[int]
    """Buckets of its words that this article made common (their count just passed ``rare_df``)."""


class Vectoriser:
    """Document frequencies over the store, and the vectors they weight."""

    def __init__(self, state: EventState, config: ClusterConfig) -> None:
        self.state = state
        self.cfg = config
        self.df = array("I", [0]) * DF_BUCKETS
        self._pending: list[int] = []  # article numbers whose increments are not folded yet
        self._touched: set[int] = set()  # pages they touched
        through: dict[int, int] = {}
        for page, value in state.pages():
            through[page] = value.folded_through
            for key, c in value.counts.items():
                self.df[int(key)] += int(c)
        for n, buckets in state.increments():
            for b in buckets:
                page = b >> DF_PAGE_BITS
                if through.get(page, 0) < n:
                    self.df[b] += 1
                self._touched.add(page)
            self._pending.append(n)

    def rare(self, b: int) -> bool:
        """A word bucket held by 2 to ``rare_df`` articles now."""
        return 2 <= self.df[b] <= self.cfg.rare_df

    def vectorise(self, article: Article, n: int) -> Vectorised:
        """Count article ``n`` into the document frequencies, then weight its terms (learning first keeps IDF
        finite)."""
        out: Vector = {}
        learned: list[int] = []
        rare: list[int] = []
        turned: list[int] = []
        for ch, counts in features(article, self.cfg.title_weight).items():
            if not counts:
                continue
            vec: dict[str, float] = {}
            for t, f in counts.items():
                b = bucket(ch, t)
                self.df[b] += 1
                learned.append(b)
                self._touched.add(b >> DF_PAGE_BITS)
                if ch == "w" and self.df[b] <= self.cfg.rare_df:
                    rare.append(b)
                elif ch == "w" and self.df[b] == self.cfg.rare_df + 1:
                    turned.append(b)
                vec[t] = (1.0 + math.log(f)) * math.log((n + self.cfg.prior_docs + 1) / self.df[b])
            vec = top(vec, self.cfg.query_terms)
            size = norm(vec) or 1.0
            out[ch] = {t: w / size for t, w in vec.items()}
        self.state.put_increment(n, learned)
        self._pending.append(n)
        return Vectorised(out, sorted(rare)[: self.cfg.rare_keep], sorted(turned)[: self.cfg.rare_keep])

    def fold_due(self) -> bool:
        return len(self._pending) >= self.cfg.fold_every

    def fold(self, n: int) -> None:
        """Write every page touched since the last fold, marked as folded through article ``n``, then drop the
        increments it now holds."""
        size = 1 << DF_PAGE_BITS
        for page in sorted(self._touched):
            lo = page << DF_PAGE_BITS
            self.state.put_page(page, DfPage(n, {str(b): self.df[b] for b in range(lo, lo + size) if self.df[b]}))
        for m in self._pending:
            self.state.drop_increment(m)
        self._pending.clear()
        self._touched.clear()
