"""Normalised articles -> the analysed-article message (article + entities + claims), shared by both drivers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from newsrift.errors import ProcessingError
from newsrift.messages import AnalysedArticle
from newsrift.model import Article


def warm_up() -> None:
    """Load the model before the first batch (a process pool's initializer), so no batch pays for it."""
    from newsrift.stages.extract import load_nlp

    load_nlp()


def split(items: Sequence[Any], parts: int) -> list[list[Any]]:
    """Up to ``parts`` contiguous, nearly equal chunks, in order, none empty."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def analyse_batch(articles: Sequence[Article]) -> list[dict[str, Any] | Exception]:
    """Run spaCy and claim extraction over a batch: each article's ``AnalysedArticle`` message as JSON; an article
    that fails yields its exception, not a crash."""
    from newsrift.stages.extract import extract_many

    out: list[dict[str, Any] | Exception] = []
    english = [a for a in articles if a.language in (None, "en")]
    results: dict[str, dict[str, Any]] = {}
    try:
        for article, claims, entities in extract_many(english):
            article = dataclasses.replace(article, entities=tuple(entities))
            results[article.article_id] = AnalysedArticle(article, tuple(claims)).to_json()
    except Exception:
        # One bad article must not sink the batch: redo them one by one to find it.
        results = {}
        for a in english:
            try:
                for article, claims, entities in extract_many([a]):
                    article = dataclasses.replace(article, entities=tuple(entities))
                    results[a.article_id] = AnalysedArticle(article, tuple(claims)).to_json()
            except Exception as e:
                results[a.article_id] = {"error": ProcessingError(f"claim extraction failed: {e!r}")}
    for a in articles:
        if a.language not in (None, "en"):
            # Other languages are kept and indexed, without claims (the model is English-only).
            out.append(AnalysedArticle(a).to_json())
            continue
        r = results[a.article_id]
        out.append(r["error"] if "error" in r else r)
    return out
