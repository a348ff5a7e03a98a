"""The word lists are data files, read once and shared: extraction and disputes see the same lists."""

from __future__ import annotations

from collections import Counter

from newsrift import lexicons
from newsrift.lexicons import actions, parties, units
from newsrift.stages.disputes import frames
from newsrift.stages.extract import claims, quantities


def test_each_lemma_is_in_one_action_class_and_every_act_verb_has_a_class() -> None:
    counts = Counter(lemma for lemmas in actions().classes.values() for lemma in lemmas)
    assert [lemma for lemma, n in counts.items() if n > 1] == []
    index = actions().index
    assert all(v in index for v in actions().verbs)
    assert all(verb in index or verb in actions().verbs for verb in actions().nouns.values())


def test_extraction_and_disputes_read_the_same_action_lists() -> None:
    assert claims._ACTION_VERBS is actions().verbs
    assert claims._ACTION_NOUNS is actions().nouns
    assert frames.action_class("blow up") == frames.action_class("destroy") == "attack"
    assert frames.action_class("retaliate") == "retaliate"  # in no class but its own


def test_every_unit_read_from_text_converts_for_comparison() -> None:
    u = units()
    for word, name in u.by_word.items():
        assert u.scale[word.lower()] == u.scale[name.lower()]
    assert quantities._UNITS_1["points"] == "percentage points"
    assert frames.normalise_unit("basis points") == ("pp", 0.01)
    assert frames.normalise_unit("months") == ("years", 1 / 12)
    assert quantities._CURRENCY is u.signs


def test_party_names_fold_and_longer_phrases_come_first() -> None:
    p = parties()
    assert p.words["kremlin"] == p.words["moscow"] == "russia"
    lengths = [len(phrase) for phrase, _ in p.phrases]
    assert lengths == sorted(lengths, reverse=True)
    assert frames.terms(["North Korean state media"]) & p.names == {"northkorea"}


def test_every_contrast_question_has_two_poles_that_share_no_words() -> None:
    questions = lexicons.contrasts()
    assert len(questions) >= 5
    for q in questions:
        (_, a), (_, b) = q.poles
        assert a and b and not set(a) & set(b), q.name
        assert all(w == w.lower() for w in a + b), q.name
