"""Quantity forms one by one (approximation, bounds, units, the ``counted`` vocabulary) and time normalisation."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from spacy.language import Language

from newsrift.model import Quantity
from newsrift.stages.extract.claims import normalise_times
from newsrift.stages.extract.components import doc_quantities
from newsrift.stages.extract.quantities import COUNTED_TOLLS, VAGUE, quantities_in, word_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("75", 75),
        ("1,200", 1200),
        ("five", 5),
        ("twenty-one", 21),
        ("1.5 million", 1.5e6),
        ("two thousand", 2000),
        ("one hundred and five", 105),
        ("ninety nine", 99),
        ("dozen", None),
        ("", None),
        ("seven apples", None),
    ],
)
def test_word_number(text: str, value: float | None) -> None:
    assert word_number(text) == value


def only(nlp: Language, text: str) -> Quantity:
    qs = quantities_in(nlp(text))
    assert len(qs) == 1, qs
    assert text[qs[0].start : qs[0].end] == qs[0].text
    return qs[0]


@pytest.mark.parametrize(
    ("text", "low", "high", "approx", "counted", "unit"),
    [
        ("There were over 100 casualties.", 100, None, "over", "casualties", None),
        ("About 100 people were killed.", 100, 100, "about", "killed", None),
        ("Dozens of homes were destroyed.", 24, 99, "vague", "home", None),
        ("Tens of thousands of people have been displaced.", 20000, 99999, "vague", "displaced", None),
        ("Five people died.", 5, 5, "exact", "killed", None),
        ("At least 471 were wounded.", 471, None, "at_least", "wounded", None),
        ("In excess of 500 troops attacked.", 500, None, "over", "troop", None),
        ("Between 10 and 20 gunmen took part.", 10, 20, "range", "gunman", None),
        ("As many as 30 people are missing.", None, 30, "at_most", "missing", None),
        ("Nearly 2,000 people were arrested.", 2000, 2000, "about", "arrested", None),
        ("The bank cut rates by 75 basis points.", 0.75, 0.75, "exact", None, "percentage points"),
        ("The bank cut rates by 0.75 percentage points.", 0.75, 0.75, "exact", None, "percentage points"),
        ("Inflation rose to 3 per cent.", 3, 3, "exact", None, "percent"),
        ("The fine was €2.1 billion.", 2.1e9, 2.1e9, "exact", None, "EUR"),
        ("The death toll rose to 40.", 40, 40, "exact", "killed", None),
    ],
)
def test_forms(
    nlp: Language, text: str, low: float | None, high: float | None, approx: str, counted: str | None, unit: str | None
) -> None:
    q = only(nlp, text)
    assert (q.low, q.high, q.approx, q.counted, q.unit) == (low, high, approx, counted, unit)


def test_basis_points_and_percentage_points_are_the_same_quantity(nlp: Language) -> None:
    a = only(nlp, "The Fed raised rates by 75 basis points.")
    b = only(nlp, "The Fed raised rates by 0.75 percentage points.")
    assert (a.low, a.high, a.unit) == (b.low, b.high, b.unit)


@pytest.mark.parametrize(
    "text",
    [
        "The war began in 2011.",
        "It happened on February 7.",
        "The meeting starts at 10:30 tomorrow.",
        "It was the third attack.",
        "Several of them left.",
        "It was one of the conditions.",
        "Officials called it a two-step plan.",
        "Read more at example.com/2009-03-04/news/36879035_1_bridge.",
        "The rule took effect on Dec. 16.",
    ],
)
def test_dates_ordinals_and_bare_vague_words_are_not_counts(nlp: Language, text: str) -> None:
    assert quantities_in(nlp(text)) == []


def test_one_is_a_count_only_when_something_happened_to_it(nlp: Language) -> None:
    q = only(nlp, "One person was killed in the crash.")
    assert (q.low, q.counted) == (1, "killed")


def test_killed_and_wounded_stay_apart_and_together_make_casualties(nlp: Language) -> None:
    qs = quantities_in(nlp("Five people were killed and 12 wounded; 30 were killed or wounded in all."))
    assert [q.counted for q in qs] == ["killed", "wounded", "casualties"]


def test_component_and_function_agree(nlp: Language) -> None:
    doc = nlp("Officials said at least 12 soldiers and dozens of civilians died.")
    assert doc._.nr_quantities == quantities_in(doc) == doc_quantities(doc)
    assert {q.counted for q in doc._.nr_quantities} <= {*COUNTED_TOLLS, "soldier", "civilian"}


def test_vague_table_bounds_are_ordered() -> None:
    assert all(lo <= hi for lo, hi in VAGUE.values())


@pytest.mark.parametrize(
    ("phrase", "iso"),
    [
        ("yesterday", "2018-02-13"),
        ("on Tuesday", "2018-02-13"),
        ("last Wednesday", "2018-02-07"),
        ("next Monday", "2018-02-19"),
        ("last week", "2018-W06"),
        ("next week", "2018-W08"),
        ("last month", "2018-01"),
        ("last year", "2017"),
        ("three days ago", "2018-02-11"),
        ("February 7", "2018-02-07"),
        ("December 30", "2017-12-30"),
        ("March 1", "2018-03-01"),
        ("February 30", None),
        ("June 3, 2016", "2016-06-03"),
    ],
)
def test_times_are_normalised_against_publication(phrase: str, iso: str | None) -> None:
    pub = datetime(2018, 2, 14, 12, tzinfo=timezone.utc)  # a Wednesday
    assert normalise_times([phrase], pub) == ([iso] if iso else [])
    assert normalise_times([phrase], None) == []
