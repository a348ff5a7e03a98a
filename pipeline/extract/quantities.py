"""Numbers with what they count, from spaCy tokens: "over 100 casualties", "in excess of 500", "dozens", "five
people", "between 10 and 20", "75 basis points".

``Quantity.approx`` is one of exact, about, over, under, at_least, at_most, range, vague; ``low``/``high`` bound
the value (``over 100`` -> low=100, high=None). ``counted`` is the counted noun as written in the text, lower-cased
("casualties", "people", "troops"): the dispute stage maps it to a class with the claim's action (people + killed ->
deaths), and keeps deaths, injured and casualties apart. ``unit`` is the unit as written ("basis points", "%",
"percentage points", "dollars"); the dispute stage converts units (75 basis points == 0.75 percentage points).
"""

from __future__ import annotations

import re

from spacy.tokens import Span, Token

from pipeline.model import Quantity

__all__ = ["quantities_in", "word_number"]

_UNITS_1 = {"%", "percent", "pct", "bp", "bps", "dollars", "euros", "pounds", "km", "kilometres", "kilometers",
            "miles", "years", "months", "weeks", "days", "hours", "tons", "tonnes", "points", "metres", "meters"}
_UNITS_2 = {"per cent", "basis points", "basis point", "percentage points", "percentage point"}
_CURRENCY = {"$": "dollars", "€": "euros", "£": "pounds", "us$": "dollars"}
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "hundred": 100, "k": 1e3, "m": 1e6,
          "bn": 1e9}
_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen".split())}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_VAGUE = {"dozens", "hundreds", "thousands", "scores", "several", "a handful", "a dozen", "millions", "tens"}
# Modifiers before a number, longest first so "more than" wins over "more".
_BEFORE = [
    ("in excess of", "over"), ("more than", "over"), ("greater than", "over"), ("upwards of", "over"),
    ("over", "over"), ("above", "over"), ("at least", "at_least"), ("no fewer than", "at_least"),
    ("no less than", "at_least"), ("as many as", "at_most"), ("up to", "at_most"), ("at most", "at_most"),
    ("no more than", "at_most"), ("fewer than", "under"), ("less than", "under"), ("under", "under"),
    ("below", "under"), ("nearly", "about"), ("almost", "about"), ("about", "about"), ("around", "about"),
    ("roughly", "about"), ("approximately", "about"), ("some", "about"), ("an estimated", "about"),
    ("close to", "about"), ("estimated", "about"), ("just over", "over"), ("just under", "under"),
]
_NUM_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^[+-]?\d+(?:\.\d+)?$")
_YEAR_RE = re.compile(r"^(1[89]|20)\d\d$")


def word_number(text: str) -> float | None:
    """'75' -> 75, '1,200' -> 1200, 'five' -> 5, 'twenty-one' -> 21, '1.5 million' -> 1.5e6; None otherwise."""
    t = text.lower().strip().replace("-", " ")
    if not t:
        return None
    parts = t.split()
    total, current = 0.0, 0.0
    seen = False
    for p in parts:
        if p in ("and", "a", "an"):
            continue
        if _NUM_RE.match(p):
            current += float(p.replace(",", ""))
            seen = True
        elif p in _SMALL:
            current += _SMALL[p]
            seen = True
        elif p in _TENS:
            current += _TENS[p]
            seen = True
        elif p in _SCALE and (seen or p == "hundred"):
            current = (current or 1.0) * _SCALE[p]
            if _SCALE[p] >= 1000:
                total += current
                current = 0.0
            seen = True
        else:
            return None
    return total + current if seen else None


def _modifier(span_start: Token) -> tuple[str, int] | None:
    """The approximation words just before a number, and the index where they start."""
    doc = span_start.doc
    i = span_start.i
    for phrase, kind in _BEFORE:
        words = phrase.split()
        n = len(words)
        if i - n < 0:
            continue
        if [t.lower_ for t in doc[i - n : i]] == words:
            return kind, i - n
    return None


def _counted(first: Token, last: Token) -> tuple[str | None, str | None, int]:
    """(counted noun, unit, index just after what was consumed) for the number ending at ``last``."""
    doc = last.doc
    j = last.i + 1
    if j < len(doc) and doc[j].text.lower() in ("%",):
        return None, "%", j + 1
    two = doc[j : j + 2].text.lower() if j + 1 < len(doc) else ""
    if two in _UNITS_2:
        return None, two, j + 2
    if j < len(doc) and doc[j].lower_ in _UNITS_1:
        unit = doc[j].lower_
        return None, unit, j + 1
    # The noun the number modifies: its syntactic head when the parser says so, else the next noun nearby.
    if last.dep_ in ("nummod", "quantmod", "amod") and last.head.pos_ in ("NOUN", "PROPN") and last.head.i > last.i:
        head = last.head
        return _noun_text(head), None, head.i + 1
    for k in range(j, min(j + 4, len(doc))):
        t = doc[k]
        if t.lower_ in _TOLL_WORDS:  # "at least 471 wounded", "12 dead"
            return t.lower_, None, k + 1
        if t.pos_ in ("NOUN",):
            return _noun_text(t), None, k + 1
        if (t.pos_ in ("VERB", "AUX", "ADP") and t.lower_ not in ("of",)) or t.is_punct:
            break
    # "troops, in excess of 500, ...": the number stands in apposition after its noun.
    for k in range(first.i - 1, max(first.i - 6, -1), -1):
        t = doc[k]
        if t.pos_ == "NOUN":
            return _noun_text(t), None, last.i + 1
        if t.pos_ in ("VERB", "AUX"):
            break
    return None, None, last.i + 1


_TOLL_WORDS = {"killed", "dead", "wounded", "injured", "hurt", "missing", "died"}
_MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
           "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def _is_calendar(tok: Token) -> bool:
    """A day or year in a date ("February 7", "2018"), not a count; "70 years" stays a quantity."""
    if tok.ent_type_ not in ("DATE", "TIME"):
        return False
    if _YEAR_RE.match(tok.text):
        return True
    ent_words = {t.lower_ for t in tok.doc[max(0, tok.i - 3) : tok.i + 3] if t.ent_type_ in ("DATE", "TIME")}
    return bool(ent_words & _MONTHS) or tok.ent_type_ == "TIME"


def _noun_text(t: Token) -> str:
    # "killed or wounded" style compounds are rare as nouns; keep the noun with a preceding compound noun.
    left = [c for c in t.lefts if c.dep_ == "compound" and c.pos_ == "NOUN"]
    return " ".join([*(c.lower_ for c in left), t.lower_])


def quantities_in(span: Span, base: int = 0) -> list[Quantity]:
    """Every quantity inside ``span``; offsets are character offsets into the doc text plus ``base``."""
    out: list[Quantity] = []
    doc = span.doc
    i = span.start
    while i < span.end:
        tok = doc[i]
        low: float | None = None
        high: float | None = None
        approx = "exact"
        first = tok
        last = tok
        lower = tok.lower_
        currency_unit: str | None = None
        if lower in _CURRENCY and i + 1 < span.end and word_number(doc[i + 1].text) is not None:
            currency_unit = _CURRENCY[lower]
            i += 1
            tok = last = doc[i]
        if lower in _VAGUE or (lower == "a" and i + 1 < span.end and doc[i + 1].lower_ in ("dozen", "handful")):
            if lower == "a":
                last = doc[i + 1]
            approx = "vague"
        elif tok.like_num or word_number(tok.text) is not None:
            # Gather a multi-token number: "1.5 million", "twenty one", "two thousand".
            k = i
            while (k + 1 < span.end and (doc[k + 1].lower_ in _SCALE or doc[k + 1].lower_ in _SMALL
                                        or doc[k + 1].lower_ in _TENS) and doc[k + 1].pos_ != "NOUN") or (
                    k + 1 < span.end and doc[k + 1].lower_ in ("million", "billion", "thousand", "trillion")):
                k += 1
            value = word_number(doc[i : k + 1].text)
            if value is None or tok.ent_type_ == "ORDINAL" or _is_calendar(tok):
                i += 1
                continue
            last = doc[k]
            low = high = value
            prev2 = doc[max(span.start, i - 1)]
            # Ranges: "between 10 and 20", "10 to 20", "10-20".
            if prev2.lower_ == "between" and k + 2 < span.end and doc[k + 1].lower_ == "and":
                other = word_number(doc[k + 2].text)
                if other is not None:
                    high, last, approx = other, doc[k + 2], "range"
                    first = prev2
            elif k + 2 < span.end and doc[k + 1].lower_ in ("to", "-", "–") and word_number(doc[k + 2].text):
                other = word_number(doc[k + 2].text)
                if other is not None and other > value:
                    high, last, approx = other, doc[k + 2], "range"
            if approx == "exact":
                mod = _modifier(tok)
                if mod:
                    approx, start_i = mod
                    first = doc[start_i]
                    if approx in ("under", "at_most"):
                        low = None
                    elif approx in ("over", "at_least"):
                        high = None
        else:
            i += 1
            continue
        counted, unit, after = _counted(first, last)
        unit = unit or currency_unit
        end_tok = doc[min(after, len(doc)) - 1] if counted or unit else last
        start_char, end_char = first.idx, end_tok.idx + len(end_tok.text)
        out.append(Quantity(text=doc.text[start_char:end_char], low=low, high=high, approx=approx,
                            counted=counted, unit=unit, start=base + start_char, end=base + end_char))
        i = max(last.i + 1, i + 1)
    return out
