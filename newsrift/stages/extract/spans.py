"""Entities inside a span in time proportional to the span (``Span.ents`` scans every entity of the document,
which makes a long article quadratic)."""

from __future__ import annotations

from collections.abc import Iterator

from spacy.tokens import Span


def ents_in(span: Span, labels: tuple[str, ...] | None = None) -> Iterator[Span]:
    doc = span.doc
    i = span.start
    while i < span.end:
        tok = doc[i]
        if tok.ent_iob_ == "B" or (tok.ent_iob_ == "I" and i == span.start):
            j = i + 1
            while j < span.end and doc[j].ent_iob_ == "I":
                j += 1
            if labels is None or tok.ent_type_ in labels:
                yield Span(doc, i, j, label=tok.ent_type_)
            i = j
        else:
            i += 1
