"""The state rule: only top-level ``store[key] = value`` counts, values are JSON, and redelivery repeats answers."""

from __future__ import annotations

import copy
from typing import Any

from newsrift.stages.dedupe.core import ReprintDecision, ReprintIndex
from tests.unit.dedupe.test_reprints import _feed, _fixture_articles
from tests.unit.stores import TopLevelOnlyStore


def test_a_store_that_only_sees_top_level_sets_gives_the_same_answers() -> None:
    arts = _fixture_articles()
    assert _feed(ReprintIndex(TopLevelOnlyStore()), arts) == _feed(ReprintIndex({}), arts)


def test_redelivered_articles_get_their_first_decision() -> None:
    arts = _fixture_articles()
    store: dict[str, Any] = {}
    idx = ReprintIndex(store)
    first = _feed(idx, arts)
    snapshot = copy.deepcopy(store)
    again = [idx.check(a) for a in arts]
    assert [(d.duplicate_of, d.similarity) for d in again] == first
    assert store == snapshot
    assert all(isinstance(d, ReprintDecision) for d in again)
