"""The state rule: only top-level ``store[key] = value`` counts, values are JSON, and redelivery repeats answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from pipeline.dedupe.core import ReprintDecision, ReprintIndex
from tests.unit.dedupe.test_reprints import _feed, _fixture_articles


class TopLevelOnlyStore(dict[str, Any]):
    """Like a Faust table: keeps a JSON copy of each value set, so an in-place change to a value read back is lost."""

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, json.dumps(value))

    def __getitem__(self, key: str) -> Any:
        return json.loads(super().__getitem__(key))

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return ((k, self[k]) for k in list(self.keys()))


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
