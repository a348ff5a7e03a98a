"""Normalised articles -> the analysed-article message (article + entities + claims), shared by both drivers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from pipeline.errors import ProcessingError
from pipeline.model import Article


def analyse_batch(articles: Sequence[Article]) -> list[dict[str, Any] | Exception]:
    """Run spaCy and claim extraction over a batch; an article that fails yields its exception, not a crash."""
    from pipeline.extract import extract_many

    out: list[dict[str, Any] | Exception] = []
    english = [a for a in articles if a.language in (None, "en")]
    results: dict[str, dict[str, Any]] = {}
    try:
        for article, claims, entities in extract_many(english):
            article = dataclasses.replace(article, entities=tuple(entities))
            results[article.article_id] = {"article": article.to_json(), "claims": [c.to_json() for c in claims]}
    except Exception:
        # One bad article must not sink the batch: redo them one by one to find it.
        results = {}
        for a in english:
            try:
                for article, claims, entities in extract_many([a]):
                    article = dataclasses.replace(article, entities=tuple(entities))
                    results[a.article_id] = {"article": article.to_json(), "claims": [c.to_json() for c in claims]}
            except Exception as e:
                results[a.article_id] = {"error": ProcessingError(f"claim extraction failed: {e!r}")}
    for a in articles:
        if a.language not in (None, "en"):
            # Other languages are kept and indexed, without claims (the model is English-only).
            out.append({"article": a.to_json(), "claims": []})
            continue
        r = results[a.article_id]
        out.append(r["error"] if "error" in r else r)
    return out
