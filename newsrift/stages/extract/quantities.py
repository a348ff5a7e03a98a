"""Numbers with what they count: "over 100 casualties", "in excess of 500", "dozens", "five people", "between 10
and 20", "75 basis points".

A ``Quantity`` says how a number was hedged and what it counts:

``approx``
    exact | about | over | under | at_least | at_most | range | vague. ``low``/``high`` bound the value: "over 100"
    -> low=100, high=None; "fewer than 50" -> low=None, high=50; "between 10 and 20" -> 10..20; vague words get the
    bounds in ``VAGUE`` ("dozens" -> 24..99), the same table the dispute stage uses.

``counted`` (the dispute stage keys numeric slots on it, so it is a small, closed vocabulary first)
    Tolls, whatever noun the outlet chose, so "five people were killed", "five deaths" and "five dead" share a slot:

    - ``killed``: killed, died, dead, deaths, fatalities, bodies, lives lost, death toll
    - ``wounded``: wounded, injured, hurt, injuries
    - ``casualties``: casualties, and "killed or wounded" together; never merged with killed or wounded, because
      "30 killed" and "over 100 casualties" are usually both true
    - ``missing``: missing, unaccounted for
    - ``arrested``: arrested, detained, arrests
    - ``displaced``: displaced, fled, homeless

    Anything else is the lemma of the counted noun, lower-case ("troop", "helicopter", "home", "people" for "people"
    that nothing happened to). The counted people stay in ``text`` ("five Russian citizens"), so the dispute stage
    can still tell whose toll a number is.

``unit``
    Normalised so equal amounts compare equal: ``percentage points`` (basis points are divided by 100: "75 basis
    points" -> low=0.75), ``percent`` (%, per cent, pct), ``USD`` / ``EUR`` / ``GBP`` (symbols and words), and
    time or distance units in their plural form as written ("hours", "years", "km").
"""

from __future__ import annotations

import math
import re

from spacy.tokens import Doc, Span, Token

from newsrift.lexicons import units
from newsrift.model import Quantity

__all__ = ["COUNTED_TOLLS", "VAGUE", "quantities_in", "word_number"]

COUNTED_TOLLS = ("killed", "wounded", "casualties", "missing", "arrested", "displaced")

# Counted nouns (lower-case, as written) that name a toll themselves.
_TOLL_NOUNS = {
    "casualties": "casualties",
    "casualty": "casualties",
    "deaths": "killed",
    "death": "killed",
    "fatalities": "killed",
    "fatality": "killed",
    "dead": "killed",
    "bodies": "killed",
    "lives": "killed",
    "injuries": "wounded",
    "injury": "wounded",
    "wounded": "wounded",
    "injured": "wounded",
    "killed": "killed",
    "arrests": "arrested",
    "detentions": "arrested",
    "missing": "missing",
}
# Verbs, participles and predicate adjectives (lemma or lower-case form) that say what happened to the counted.
_TOLL_WORDS = {
    "kill": "killed",
    "killed": "killed",
    "die": "killed",
    "died": "killed",
    "dead": "killed",
    "murder": "killed",
    "execute": "killed",
    "slay": "killed",
    "injure": "wounded",
    "injured": "wounded",
    "wound": "wounded",
    "wounded": "wounded",
    "hurt": "wounded",
    "missing": "missing",
    "arrest": "arrested",
    "arrested": "arrested",
    "detain": "arrested",
    "detained": "arrested",
    "displace": "displaced",
    "displaced": "displaced",
    "flee": "displaced",
    "homeless": "displaced",
}
# Units after a number and currency signs before one come from ``newsrift/lexicons/units.toml``.
_UNITS_1 = {w: name for w, name in units().by_word.items() if " " not in w}
_UNITS_2 = {w: name for w, name in units().by_word.items() if " " in w}
_CURRENCY = units().signs
_SCALE = {
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "hundred": 100,
    "k": 1e3,
    "m": 1e6,
    "bn": 1e9,
}
_BIG = ("thousand", "million", "billion", "trillion")
_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# Vague amounts and the values they allow (the dispute stage reads this table too; longest phrase first).
VAGUE: dict[str, tuple[float, float]] = {
    "tens of thousands": (20000, 99999),
    "hundreds of thousands": (200000, 999999),
    "dozens": (24, 99),
    "scores": (40, 99),
    "hundreds": (200, 999),
    "thousands": (2000, 9999),
    "millions": (2e6, 9.99e6),
    "several": (3, 9),
    "a few": (2, 9),
    "a dozen": (10, 14),
    "a handful": (2, 6),
}
# The vague phrases by first word, longest first: most tokens start none, and are turned away by one lookup.
_VAGUE_BY_FIRST: dict[str, list[tuple[list[str], str]]] = {}
for _phrase in sorted(VAGUE, key=lambda p: -len(p.split())):
    _VAGUE_BY_FIRST.setdefault(_phrase.split()[0], []).append((_phrase.split(), _phrase))
# Modifiers before a number, longest first so "more than" wins over "more".
_BEFORE = sorted(
    [
        ("in excess of", "over"),
        ("more than", "over"),
        ("greater than", "over"),
        ("upwards of", "over"),
        ("over", "over"),
        ("above", "over"),
        ("just over", "over"),
        ("at least", "at_least"),
        ("no fewer than", "at_least"),
        ("no less than", "at_least"),
        ("as many as", "at_most"),
        ("up to", "at_most"),
        ("at most", "at_most"),
        ("no more than", "at_most"),
        ("fewer than", "under"),
        ("less than", "under"),
        ("under", "under"),
        ("below", "under"),
        ("just under", "under"),
        ("nearly", "about"),
        ("almost", "about"),
        ("about", "about"),
        ("around", "about"),
        ("roughly", "about"),
        ("approximately", "about"),
        ("some", "about"),
        ("an estimated", "about"),
        ("close to", "about"),
        ("estimated", "about"),
        ("approx.", "about"),
    ],
    key=lambda x: -len(x[0].split()),
)
_NUM_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^[+-]?\d+(?:\.\d+)?$")
_YEAR_RE = re.compile(r"^(1[89]|20)\d\d$")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CALENDAR = {*MONTHS, *WEEKDAYS, "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}


def word_number(text: str) -> float | None:
    """'75' -> 75, '1,200' -> 1200, 'five' -> 5, 'twenty-one' -> 21, '1.5 million' -> 1.5e6; None otherwise.

    A number too large for a double (a 400-digit run of digits) is no quantity: None, not infinity, which JSON
    and Elasticsearch cannot carry.
    """
    parts = text.lower().strip().replace("-", " ").split()
    total, current = 0.0, 0.0
    seen = False
    for p in parts:
        if p in ("and", "a", "an"):
            continue
        if _NUM_RE.match(p):
            current += float(p.replace(",", ""))
        elif p in _SMALL:
            current += _SMALL[p]
        elif p in _TENS:
            current += _TENS[p]
        elif p in _SCALE and (seen or p == "hundred"):
            current = (current or 1.0) * _SCALE[p]
            if _SCALE[p] >= 1000:
                total, current = total + current, 0.0
        else:
            return None
        seen = True
    if not seen:
        return None
    value = total + current
    return value if math.isfinite(value) else None


def _modifier(doc: Doc, i: int, floor: int) -> tuple[str, int] | None:
    """The approximation words just before token ``i`` (not before ``floor``), and where they start."""
    for phrase, kind in _BEFORE:
        words = phrase.split()
        n = len(words)
        if i - n >= floor and [t.lower_ for t in doc[i - n : i]] == words:
            return kind, i - n
    return None


def _is_calendar(tok: Token) -> bool:
    """A day, year or clock time ("February 7", "2018", "10:30"), not a count; "70 years" stays a quantity."""
    if ":" in tok.text:
        return True
    if tok.ent_type_ not in ("DATE", "TIME"):
        return False
    if _YEAR_RE.match(tok.text):
        return True
    near = tok.doc[max(0, tok.i - 3) : tok.i + 3]
    return any(t.lower_.rstrip(".") in _CALENDAR or t.lower_ in ("am", "pm", "a.m.", "p.m.") for t in near)


_CODE_MARKS = {"/", "_", "#", "=", "&", "?"}


def _not_a_count(doc: Doc, i: int, k: int) -> bool:
    """Numbers that count nothing: parts of URLs and codes ("/2009/04/28/"), compound adjectives ("a two-step
    manoeuvre", "a five-year plan")."""
    if (i > 0 and doc[i - 1].text in _CODE_MARKS) or (k + 1 < len(doc) and doc[k + 1].text in _CODE_MARKS):
        return True
    if i > 1 and doc[i - 1].text == "-" and doc[i - 2].like_num:
        return True  # "2009-03-04": the tail of a date or code (a real range was taken whole by its first number)
    if k + 2 < len(doc) and doc[k + 1].text == "-" and not doc[k + 1].whitespace_ and doc[k + 2].is_alpha:
        return word_number(doc[k + 2].text) is None and doc[k + 2].lower_ not in _SCALE
    return False


def _toll_of(bearer: Token) -> str | None:
    """What happened to the counted things, from the parse around the word that bears the number."""
    head = bearer.head
    word = _TOLL_WORDS.get(head.lemma_.lower()) or _TOLL_WORDS.get(head.lower_)
    if bearer.dep_ in ("nsubj", "nsubjpass") and head is not bearer:
        if word:
            # "30 people were killed or wounded": two tolls on one subject make casualties.
            conj = [
                c
                for c in head.children
                if c.dep_ == "conj" and not any(g.dep_ in ("nsubj", "nsubjpass") for g in c.children)
            ]
            if any((_TOLL_WORDS.get(c.lemma_.lower()) or _TOLL_WORDS.get(c.lower_)) not in (None, word) for c in conj):
                return "casualties"
            return word
        # "two people are dead", "three are missing": a predicate adjective after a copula.
        for c in head.children:
            if c.dep_ in ("acomp", "attr", "oprd"):
                w = _TOLL_WORDS.get(c.lower_) or _TOLL_WORDS.get(c.lemma_.lower())
                if w:
                    return w
    if bearer.dep_ == "dobj" and head is not bearer:
        if word and head.lemma_.lower() not in ("die",):
            return word  # "the strike killed 30 civilians"
        for c in head.children:  # "left 20 people dead"
            if c.dep_ in ("oprd", "acomp", "xcomp", "ccomp") and c.i > bearer.i:
                w = _TOLL_WORDS.get(c.lower_) or _TOLL_WORDS.get(c.lemma_.lower())
                if w:
                    return w
    for c in bearer.children:  # "Russians killed in the strike", "people missing after the flood"
        if c.dep_ in ("acl", "amod", "relcl") and c.i > bearer.i:
            w = _TOLL_WORDS.get(c.lower_) or _TOLL_WORDS.get(c.lemma_.lower())
            if w:
                return w
    if bearer.dep_ == "pobj" and head.lower_ == "to" and head.head.pos_ == "VERB":
        # "the death toll rose to 40"
        subj = [c for c in head.head.children if c.dep_ == "nsubj"]
        if subj and subj[0].lemma_.lower() == "toll":
            kinds = {c.lower_ for c in subj[0].children}
            return "casualties" if "casualty" in kinds else "killed"
    return None


def _counted(doc: Doc, first: int, last: int, limit: int) -> tuple[str | None, str | None, int, float]:
    """(counted, unit, token index just after what was consumed, scale factor) for the number ending at ``last``."""
    j = last + 1
    if j + 1 < limit:
        two = f"{doc[j].lower_} {doc[j + 1].lower_}"
        if two in _UNITS_2:
            unit = _UNITS_2[two]
            return None, ("percentage points" if unit == "bp" else unit), j + 2, (0.01 if unit == "bp" else 1.0)
    if j < limit and doc[j].lower_ in _UNITS_1:
        unit = _UNITS_1[doc[j].lower_]
        return None, ("percentage points" if unit == "bp" else unit), j + 1, (0.01 if unit == "bp" else 1.0)
    num = doc[last]
    if j < limit and doc[j].lower_ in _TOLL_NOUNS and doc[j].pos_ != "NOUN":
        return _TOLL_NOUNS[doc[j].lower_], None, j + 1, 1.0  # "12 dead", "at least 471 wounded"
    # The noun the number modifies: its syntactic head when the parser says so, else the next noun nearby.
    noun: Token | None = None
    if (
        num.dep_ in ("nummod", "quantmod", "amod", "compound")
        and num.head.pos_ in ("NOUN", "PROPN")
        and last < num.head.i < limit
    ):
        noun = num.head
    else:
        for k in range(j, min(j + 4, limit)):
            t = doc[k]
            if t.pos_ == "NOUN":
                noun = t
                break
            if (t.pos_ in ("VERB", "AUX", "ADP") and t.lower_ != "of") or t.is_punct:
                break
    if noun is not None:
        # "dozens of militants were killed": the number word, not the noun after "of", is the subject.
        toll = _TOLL_NOUNS.get(noun.lower_) or _toll_of(noun) or (_toll_of(num) if noun.head is not num else None)
        return toll or noun.lemma_.lower(), None, noun.i + 1, 1.0
    if num.dep_ in ("nsubj", "nsubjpass", "dobj", "pobj"):  # "12 wounded", "three are missing", "rose to 40"
        toll = _toll_of(num)
        if toll:
            return toll, None, last + 1, 1.0
    # "troops, in excess of 500, ...": the number stands in apposition after its noun.
    for k in range(first - 1, max(first - 6, -1), -1):
        t = doc[k]
        if t.pos_ == "NOUN":
            return _TOLL_NOUNS.get(t.lower_) or _toll_of(t) or t.lemma_.lower(), None, last + 1, 1.0
        if t.pos_ in ("VERB", "AUX"):
            break
    return None, None, last + 1, 1.0


def _vague_at(doc: Doc, i: int, end: int) -> tuple[str, int] | None:
    """The vague amount starting at token ``i`` ("dozens", "tens of thousands") and its last token index."""
    for words, phrase in _VAGUE_BY_FIRST.get(doc[i].lower_, ()):
        n = len(words)
        if i + n <= end and [t.lower_ for t in doc[i : i + n]] == words:
            return phrase, i + n - 1
    return None


def quantities_in(span: Span | Doc) -> list[Quantity]:
    """Every quantity inside ``span``, with character offsets into the doc text."""
    out: list[Quantity] = []
    doc = span.doc if isinstance(span, Span) else span
    lo_tok, hi_tok = (span.start, span.end) if isinstance(span, Span) else (0, len(doc))
    i = lo_tok
    while i < hi_tok:
        tok = doc[i]
        low: float | None
        high: float | None
        first = i
        currency: str | None = None
        if tok.lower_ in _CURRENCY and i + 1 < hi_tok and word_number(doc[i + 1].text) is not None:
            currency = _CURRENCY[tok.lower_]
            i += 1
            tok = doc[i]
        vague = _vague_at(doc, i, hi_tok) if tok.is_alpha else None
        if vague is not None:
            phrase, last = vague
            if phrase == "several" or phrase == "a few":
                # "several" only counts when a plural noun follows ("several soldiers", not "several of them").
                nxt = doc[last + 1] if last + 1 < hi_tok else None
                if nxt is None or nxt.pos_ != "NOUN":
                    i = last + 1
                    continue
            low, high = VAGUE[phrase]
            approx = "vague"
        elif (tok.like_num and tok.pos_ in ("NUM", "X", "NOUN", "PROPN", "ADJ")) or (
            tok.pos_ == "NUM" and word_number(tok.text) is not None
        ):
            # Gather a multi-token number: "1.5 million", "twenty one", "twenty-one", "two thousand".
            k = i
            while k + 1 < hi_tok:
                nxt = doc[k + 1]
                if nxt.lower_ in _BIG or (
                    (nxt.lower_ in _SCALE or nxt.lower_ in _SMALL or nxt.lower_ in _TENS) and nxt.pos_ == "NUM"
                ):
                    k += 1
                elif nxt.text == "-" and k + 2 < hi_tok and doc[k].lower_ in _TENS and doc[k + 2].lower_ in _SMALL:
                    k += 2
                else:
                    break
            value = word_number(doc[i : k + 1].text)
            if value is None or tok.ent_type_ == "ORDINAL" or _is_calendar(tok) or _not_a_count(doc, i, k):
                i = k + 1
                continue
            last = k
            low = high = value
            approx = "exact"
            # Ranges: "between 10 and 20", "10 to 20", "10-20".
            if i - 1 >= lo_tok and doc[i - 1].lower_ == "between" and k + 2 < hi_tok and doc[k + 1].lower_ == "and":
                other = word_number(doc[k + 2].text)
                if other is not None:
                    high, last, approx, first = other, k + 2, "range", i - 1
            elif k + 2 < hi_tok and doc[k + 1].lower_ in ("to", "-", "–") and doc[k + 2].like_num:
                other = word_number(doc[k + 2].text)
                if other is not None and other > value:
                    high, last, approx = other, k + 2, "range"
            if approx == "exact":
                mod = _modifier(doc, first, lo_tok)
                if mod:
                    approx, first = mod
                    if approx in ("under", "at_most"):
                        low = None
                    elif approx in ("over", "at_least"):
                        high = None
        else:
            i += 1
            continue
        counted, unit, after, factor = _counted(doc, first, last, hi_tok)
        unit = unit or currency
        if approx == "exact" and doc[i].lower_ == "one" and last == i and unit is None and counted not in COUNTED_TOLLS:
            # "one of the conditions", "one more indication": the pronoun, not a count; "one person was killed" stays.
            i += 1
            continue
        if factor != 1.0:
            low = None if low is None else round(low * factor, 10)
            high = None if high is None else round(high * factor, 10)
        end_tok = doc[after - 1] if after - 1 > last else doc[last]
        start_char, end_char = doc[first].idx, end_tok.idx + len(end_tok.text)
        # The span's own text: ``doc.text`` rebuilds the whole document on every access (quadratic on long ones).
        out.append(
            Quantity(
                text=doc[first : end_tok.i + 1].text,
                low=low,
                high=high,
                approx=approx,
                counted=counted,
                unit=unit,
                start=start_char,
                end=end_char,
            )
        )
        i = max(last + 1, i + 1)
    return out
