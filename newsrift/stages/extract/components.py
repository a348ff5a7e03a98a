"""newsrift's own spaCy components, appended after the statistical ones by ``load_nlp``.

They precompute, once per document inside ``nlp.pipe``, what the claim rules look up many times per sentence:

- ``newsrift_lines`` (before the parser): a line break starts a sentence.
- ``newsrift_quantities`` -> ``doc._.nr_quantities``: every quantity of the document (offsets into ``doc.text``).
- ``newsrift_english`` -> ``doc._.nr_english``: False when the text does not read as English, so the English rules
  do not invent claims from a German or Arabic article that slipped past language detection.

Both are pure functions of the parse; a ``Doc`` made without them (a bare ``nlp.pipe``) gets the same values computed
on demand by ``doc_quantities`` and ``doc_is_english``.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc

from newsrift.model import Quantity
from newsrift.stages.extract.quantities import quantities_in

__all__ = ["COMPONENTS", "doc_is_english", "doc_quantities"]

COMPONENTS = ("newsrift_quantities", "newsrift_english")
BEFORE_PARSER = ("newsrift_lines",)

if not Doc.has_extension("nr_quantities"):
    Doc.set_extension("nr_quantities", default=None)
if not Doc.has_extension("nr_english"):
    Doc.set_extension("nr_english", default=None)

# Below this many alphabetic tokens the stop-word test says nothing; short texts are given the benefit of the doubt.
_MIN_ALPHA = 12
_MIN_STOP_SHARE = 0.12


def doc_is_english(doc: Doc) -> bool:
    if doc._.nr_english is not None:
        return bool(doc._.nr_english)
    alpha = [t for t in doc if t.is_alpha]
    if len(alpha) < _MIN_ALPHA:
        return True
    # English prose is about 40 % stop words; another language, tokenised by English rules, hardly has any.
    return sum(1 for t in alpha if t.is_stop) / len(alpha) >= _MIN_STOP_SHARE


def doc_quantities(doc: Doc) -> list[Quantity]:
    if doc._.nr_quantities is None:
        doc._.nr_quantities = quantities_in(doc)
    return list(doc._.nr_quantities)


@Language.component("newsrift_lines")
def lines_component(doc: Doc) -> Doc:
    """A line break ends a sentence: headlines, captions and paragraphs carry no final full stop, and the parser
    would otherwise run a headline into the first sentence below it (and give both one speaker)."""
    starts = [0]
    for i, tok in enumerate(doc[:-1]):
        nxt = doc[i + 1]
        if tok.is_space and "\n" in tok.text and not nxt.is_space:
            nxt.is_sent_start = True
            starts.append(i + 1)
        elif "\n" in tok.whitespace_ and not nxt.is_space:
            nxt.is_sent_start = True
            starts.append(i + 1)
    for start in starts:
        after = _dateline_end(doc, start)
        if after is not None:
            doc[after].is_sent_start = True
    return doc


_DATELINE_MARKS = {"•", "-", "—", "–", ":", "|"}


def _dateline_end(doc: Doc, start: int) -> int | None:
    """The first token after a dateline that opens a line ("DUBAI • ", "MOSCOW (Reuters) - ", "COLOMBO: "), so the
    place is a sentence of its own and not the subject of the first one."""
    caps, depth = 0, 0
    for i in range(start, min(start + 10, len(doc) - 1)):
        t = doc[i]
        if t.text == "(":
            depth += 1
        elif t.text == ")":
            depth -= 1
        elif depth > 0:
            continue
        elif t.text in _DATELINE_MARKS:
            spaced = t.text == ":" or bool(doc[i - 1].whitespace_)  # "NATO-led" is a word, "MOSCOW - " a dateline
            return i + 1 if caps and spaced and not doc[i + 1].is_space else None
        elif t.is_alpha and t.is_upper and len(t.text) > 2:
            caps += 1
        elif t.text != ",":
            return None
    return None


@Language.component("newsrift_quantities")
def quantities_component(doc: Doc) -> Doc:
    doc._.nr_quantities = quantities_in(doc)
    return doc


@Language.component("newsrift_english")
def english_component(doc: Doc) -> Doc:
    doc._.nr_english = None
    doc._.nr_english = doc_is_english(doc)
    return doc
